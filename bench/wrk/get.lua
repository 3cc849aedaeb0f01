-- GET wrk.path from a new address each time (behind the trusted proxy), so per-address read
-- limits are exercised but not reached. Accept-Encoding as every browser sends it: widget.js is
-- served compressed to them.
local counter = 0
local first_octet = 10

function init(args)
  first_octet = 10 + (tonumber(args[1]) or 0) % 200  -- each round its own addresses
end

function request()
  counter = counter + 1
  local address = string.format("%d.200.%d.%d", first_octet,
    math.floor(counter / 250) % 250, counter % 250 + 1)
  return wrk.format("GET", wrk.path, {
    ["X-Forwarded-For"] = address,
    ["Accept-Encoding"] = "gzip, deflate, br",
  })
end
