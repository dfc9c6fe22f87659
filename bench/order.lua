-- POST /v1/orders with a fresh Idempotency-Key each time; BODY chosen by env.
local counter = 0
local thread_id = 0
local threads = {}
function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end
function init(args)
  body = os.getenv("BODY")
  key = os.getenv("KEY")
end
request = function()
  counter = counter + 1
  local headers = {}
  headers["Content-Type"] = "application/json"
  headers["Authorization"] = "Bearer " .. key
  headers["Idempotency-Key"] = os.getenv("RUN") .. "-" .. tid .. "-" .. counter
  return wrk.format("POST", "/v1/orders", headers, body)
end
