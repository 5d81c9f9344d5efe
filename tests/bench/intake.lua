-- wrk script for tests/bench/intake.sh: POSTs signed GitHub pushes, each a push of
-- its own: BODY_FILE with another "after" commit and its signature, taken in turn from
-- POOL_FILE ("AFTER SIGNATURE" lines, tests/bench/intake_pool.py), and a unique
-- X-GitHub-Delivery. The agent answers a signed body it has seen again (a replay) as a
-- duplicate, so one signed body cannot serve every request. A thread that runs out of
-- the pool starts over: those answers are 200s (n200).
-- Args: PATH POOL_FILE BODY_FILE RUN_ID THREADS. Prints key=value lines: requests, rate,
-- latency percentiles, answers by class.
local threads = {}

function setup(thread)
	thread:set("tid", #threads + 1)
	table.insert(threads, thread)
end

function init(args)
	path, run = args[1], args[4]
	local f = assert(io.open(args[3], "rb"))
	local body = f:read("*a")
	f:close()
	-- the body around its "after" value
	local _, e = body:find('"after"%s*:%s*"')
	prefix = body:sub(1, e)
	suffix = body:sub(e + 41)
	-- this thread's share of the pool: lines tid, tid + nthreads, ...
	afters, sigs = {}, {}
	local i, nthreads = 0, tonumber(args[5] or "1")
	for line in io.lines(args[2]) do
		if i % nthreads == tid - 1 then
			afters[#afters + 1] = line:sub(1, 40)
			sigs[#sigs + 1] = line:sub(42, 105)
		end
		i = i + 1
	end
	counter, n202, n200, nother = 0, 0, 0, 0
end

function request()
	local k = counter % #afters + 1
	counter = counter + 1
	return wrk.format("POST", path, {
		["Content-Type"] = "application/json",
		["X-GitHub-Event"] = "push",
		["X-GitHub-Delivery"] = string.format("%s-%d-%d", run, tid, counter),
		["X-Hub-Signature-256"] = "sha256=" .. sigs[k],
	}, prefix .. afters[k] .. suffix)
end

function response(status, headers, resp)
	if status == 202 then
		n202 = n202 + 1
	elseif status == 200 then
		n200 = n200 + 1
	else
		nother = nother + 1
	end
end

function done(summary, latency, requests)
	local a, b, c = 0, 0, 0
	for _, t in ipairs(threads) do
		a = a + t:get("n202")
		b = b + t:get("n200")
		c = c + t:get("nother")
	end
	local e = summary.errors
	io.write(string.format("requests=%d\n", summary.requests))
	io.write(string.format("seconds=%.3f\n", summary.duration / 1e6))
	io.write(string.format("rate=%.0f\n", summary.requests / (summary.duration / 1e6)))
	io.write(string.format("p50_ms=%.2f\n", latency:percentile(50) / 1000))
	io.write(string.format("p90_ms=%.2f\n", latency:percentile(90) / 1000))
	io.write(string.format("p99_ms=%.2f\n", latency:percentile(99) / 1000))
	io.write(string.format("max_ms=%.2f\n", latency.max / 1000))
	io.write(string.format("n202=%d\nn200=%d\nnother=%d\n", a, b, c))
	io.write(string.format("errors=%d\n", e.connect + e.read + e.write + e.timeout))
end
