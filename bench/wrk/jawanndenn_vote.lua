-- POST /vote/{slug} to jawanndenn as its own page's form does, each request a new voter:
-- the form fields (csrfmiddlewaretoken, voterName, option0, option1), the csrftoken cookie and
-- the Origin a browser sends with a form POST. jawanndenn takes the client address from the
-- first X-Forwarded-For value (its middleware, for use behind a proxy) and rate-limits writes
-- per address (30/minute), so every request comes from its own address, as in answers.lua.
-- Arguments: round number, CSRF form token, csrftoken cookie value, origin.
local thread_number = 0

function setup(thread)
  thread_number = thread_number + 1
  thread:set("thread_id", thread_number)
end

local counter = 0
local round = 0
local first_octet = 10
local form_token = ""
local headers = {}

function init(args)
  round = tonumber(args[1]) or 0
  first_octet = 10 + round % 200
  form_token = args[2]
  headers = {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Cookie"] = "csrftoken=" .. args[3],
    ["Origin"] = args[4],
    ["Referer"] = args[4] .. wrk.path:gsub("^/vote/", "/poll/"),
  }
end

function request()
  counter = counter + 1
  headers["X-Forwarded-For"] = string.format("%d.%d.%d.%d", first_octet, thread_id or 0,
    math.floor(counter / 250) % 250, counter % 250 + 1)
  local yes = (counter % 3 ~= 0)
  local body = string.format(
    "csrfmiddlewaretoken=%s&voterName=reader-%d-%d-%d&option0=%s&option1=%s",
    form_token, round, thread_id or 0, counter, yes and "on" or "off", yes and "off" or "on")
  return wrk.format("POST", wrk.path, headers, body)
end
