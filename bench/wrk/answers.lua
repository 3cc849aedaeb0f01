-- POST /api/v1/polls/{id}/answers from distinct new readers, each from its own address.
-- The address goes in X-Forwarded-For; pollserver trusts it only because the benchmark runs
-- it with TRUSTED_PROXY_COUNT=1, so the rate limiter works on every request but no single
-- address comes near a limit. Each round (the script's argument) has its own addresses.
local thread_number = 0
local threads = {}

function setup(thread)
  thread_number = thread_number + 1
  thread:set("thread_id", thread_number)
  table.insert(threads, thread)
end

local counter = 0
local first_octet = 10

function init(args)
  first_octet = 10 + (tonumber(args[1]) or 0) % 200
end

function request()
  counter = counter + 1
  local address = string.format("%d.%d.%d.%d", first_octet, thread_id or 0,
    math.floor(counter / 250) % 250, counter % 250 + 1)
  local answer = (counter % 3 == 0) and "no" or "yes"
  local body = '{"respondent": null, "node": "q1", "answer": "' .. answer .. '"}'
  return wrk.format("POST", wrk.path, {
    ["Content-Type"] = "application/json",
    ["X-Forwarded-For"] = address,
  }, body)
end
