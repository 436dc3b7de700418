-- wrk load client for benchmarks/bench_submit.py (simulated respondents: GET the page, POST it complete).
--
--     wrk -t C -c C -d <s> --timeout 60s -s benchmarks/bench_submit.lua http://127.0.0.1:<port> -- <input> <output> C <park>
--
-- One connection per wrk thread. <input> has one line per respondent, "token TAB urlencoded-answers";
-- thread n (0-based) takes lines i with i % C == n. Per respondent: GET /r/<token> -> parse csrf_token,
-- submission_key and the cookies -> POST the page. 303 = submitted; a 5xx or a lost connection resends
-- the SAME request (same idempotency key); any other status is a failure. State advances only in
-- response(): wrk calls request() again by itself after a reconnect, and once more before the run
-- starts (to verify the request), so request() only reads the state.
-- When its slice is done a thread writes <output>.done.<n> and stops its event loop; wrk itself still
-- sleeps until -d (or SIGINT), so bench_submit.py interrupts it when every thread has finished.
-- Before stopping, the thread points its address at <park> (a port on 127.0.0.1 that bench_submit.py
-- listens on and never serves): when a server answers "Connection: close", wrk reconnects right after
-- the last response, and with a server whose worker serves one connection at a time that idle
-- connection would hold the worker (blocked in recv) until wrk exits, stalling the threads still at work.
-- done() writes <output>: per respondent "ok token post_ms total_ms" or "fail token reason", and per
-- thread "thread id first_start last_finish retries" (CLOCK_MONOTONIC seconds, as Python's
-- time.monotonic()).
--
-- wrk 4.1 quirks this relies on or avoids: the response headers table keeps only the LAST of repeated
-- headers (one Set-Cookie survives; bench_submit.py checks that the page sets only one cookie);
-- thread:get copies flat tables of strings/numbers but aborts wrk on nested tables.

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk_id, bench_timespec *tp);
]]
local CLOCK_MONOTONIC = 1
local timespec = ffi.new("bench_timespec")

local function now()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, timespec)
  return tonumber(timespec.tv_sec) + tonumber(timespec.tv_nsec) * 1e-9
end

local MAX_ATTEMPTS = 8 -- per request, as the Python client

local function urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", c:byte()) end))
end

local function one_line(s)
  return (s:gsub("%s+", " "))
end

-- main state (setup/done) ---------------------------------------------------------------------------

local threads = {}

function setup(thread)
  thread:set("id", #threads)
  threads[#threads + 1] = thread
end

function done(summary, latency, requests)
  local path = threads[1]:get("output_path")
  local out = assert(io.open(path, "w"))
  for _, thread in ipairs(threads) do
    out:write(string.format("thread\t%d\t%s\t%s\t%d\n", thread:get("id"), thread:get("first_start") or "-",
      thread:get("last_finish") or "-", thread:get("retries") or 0))
    for _, line in ipairs(thread:get("results") or {}) do
      out:write(line, "\n")
    end
  end
  out:close()
end

-- per-thread state (globals read by done() through thread:get) ------------------------------------

results = {}      -- flat table of strings, one per finished respondent
retries = 0
first_start = nil -- monotonic time of this thread's first GET
last_finish = nil -- monotonic time of this thread's last finished respondent

local slice = {}  -- { {token, answers}, ... }
local pos = 0
local step = "start" -- start (one /healthz) | get | post | idle
local attempts = 0   -- failed attempts of the current request
local sent = false   -- the current request was handed to wrk and not answered yet
local backoff = false
local token, path, get_request, post_request
local answers, began, sent_at
local healthz, park

function init(args)
  input_path, output_path = args[1], args[2]
  local count = tonumber(args[3])
  park = wrk.lookup("127.0.0.1", args[4])[1]
  local i = 0
  for line in io.lines(input_path) do
    if i % count == id then
      local t, a = line:match("^([^\t]+)\t(.*)$")
      slice[#slice + 1] = { t, a }
    end
    i = i + 1
  end
  healthz = wrk.format("GET", "/healthz")
end

local function advance()
  last_finish = now()
  pos = pos + 1
  attempts, sent, backoff, began = 0, false, false, nil
  if pos > #slice then
    step = "idle"
    local marker = io.open(output_path .. ".done." .. id, "w")
    if marker then marker:close() end
    wrk.thread.addr = park -- where wrk's reconnect goes (see the top)
    wrk.thread:stop()
    return
  end
  step = "get"
  token, answers = slice[pos][1], slice[pos][2]
  path = "/r/" .. token
  get_request = wrk.format("GET", path, {})
end

local function fail(reason)
  results[#results + 1] = "fail\t" .. token .. "\t" .. one_line(reason)
  advance()
end

local function retry(what)
  retries = retries + 1
  attempts = attempts + 1
  backoff = true
  if attempts >= MAX_ATTEMPTS then
    fail(what .. " kept failing")
  end
end

function delay()
  if backoff then
    backoff = false
    return 50 * attempts -- ms, as the Python client
  end
  return 0
end

function request()
  if step ~= "get" and step ~= "post" then
    return healthz -- the verification call, the warm-up, or after the slice (the loop is stopped)
  end
  if sent then
    retries = retries + 1 -- no response since the last send: the connection broke and wrk reconnected
  end
  sent = true
  sent_at = now()
  if step == "get" then
    if not began then
      began = sent_at
      first_start = first_start or began
    end
    return get_request
  end
  return post_request
end

function response(status, headers, body)
  if step == "start" then
    advance()
    return
  end
  if step == "idle" then
    return
  end
  sent = false
  if step == "get" then
    if status == 200 then
      local csrf = body:match('name="csrf_token" value="([^"]+)"')
      local key = body:match('name="submission_key" value="([^"]+)"')
      if not csrf or not key then
        fail("no form on the page")
        return
      end
      local set_cookie = headers["Set-Cookie"] or headers["set-cookie"] or ""
      local form = "csrf_token=" .. urlencode(csrf) .. "&submission_key=" .. urlencode(key) .. "&page=0&shown_at="
        .. (os.time() - 30) .. "&" .. answers
      post_request = wrk.format("POST", path, {
        ["Content-Type"] = "application/x-www-form-urlencoded",
        ["Cookie"] = set_cookie:match("^[^;]*"),
        ["User-Agent"] = "bench (Mobile)",
      }, form)
      step, attempts = "post", 0
    elseif status >= 500 or status == 0 then
      retry("GET")
    else
      fail("GET " .. status)
    end
  else -- post
    if status == 303 then
      local finished = now()
      results[#results + 1] = string.format("ok\t%s\t%.3f\t%.3f", token, (finished - sent_at) * 1000,
        (finished - began) * 1000)
      advance()
    elseif status >= 500 or status == 0 then
      retry("POST")
    else
      fail("POST " .. status .. " " .. body:sub(1, 200))
    end
  end
end
