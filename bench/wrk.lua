-- wrk script of the register benchmarks.
-- Arguments (after `--`): path template, bearer token or "cookie:NAME=VALUE" ("-" for none), then the values of the
-- placeholder: "{id}" takes a random whole number from 1 to the first value, "{choice}" one of
-- the values at random. `done` prints the summary as one JSON line (wrk --latency has no p95).

local thread_count = 0

function setup(thread)
  thread_count = thread_count + 1
  thread:set("thread_id", thread_count)
end

function init(args)
  template = args[1] or "/"
  local token = args[2] or "-"
  values = {}
  for i = 3, #args do
    values[#values + 1] = args[i]
  end
  -- A fixed seed per thread makes runs of different apps send the same request sequence.
  math.randomseed(7919 * (thread_id or 1))
  headers = {}
  -- "cookie:NAME=VALUE" signs in as a browser does (pages); anything else is a bearer token.
  if string.sub(token, 1, 7) == "cookie:" then
    headers["Cookie"] = string.sub(token, 8)
  elseif token ~= "-" and token ~= "" then
    headers["Authorization"] = "Bearer " .. token
  end
  -- The path is split around its placeholder once, so each request is one concatenation.
  local at, stop = string.find(template, "{id}", 1, true)
  if at then
    mode = "id"
    max_id = tonumber(values[1])
  else
    at, stop = string.find(template, "{choice}", 1, true)
    if at then
      mode = "choice"
    end
  end
  if at then
    prefix = string.sub(template, 1, at - 1)
    suffix = string.sub(template, stop + 1)
  else
    mode = "static"
    static_request = wrk.format("GET", template, headers)
  end
end

function request()
  if mode == "id" then
    return wrk.format("GET", prefix .. math.random(1, max_id) .. suffix, headers)
  elseif mode == "choice" then
    return wrk.format("GET", prefix .. values[math.random(1, #values)] .. suffix, headers)
  end
  return static_request
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"mean":%.1f,"stdev":%.1f,"max":%d,"p50":%d,"p75":%d,"p90":%d,"p95":%d,"p99":%d,"p999":%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency.stdev, latency.max,
    latency:percentile(50), latency:percentile(75), latency:percentile(90),
    latency:percentile(95), latency:percentile(99), latency:percentile(99.9)))
end
