-- GET wrk.path from a new address each time (behind the trusted proxy), so per-address read
-- limits are exercised but not reached. Accept-Encoding as every browser sends it: widget.js is
-- served compressed to them.
local counter = 0

function request()
  counter = counter + 1
  local address = string.format("10.200.%d.%d", math.floor(counter / 250) % 250, counter % 250 + 1)
  return wrk.format("GET", wrk.path, {
    ["X-Forwarded-For"] = address,
    ["Accept-Encoding"] = "gzip, deflate, br",
  })
end
