-- wrk script for tests/bench/intake.sh: POSTs one signed GitHub push with a unique
-- X-GitHub-Delivery per request (the delivery id is not covered by the signature,
-- so one signature serves every request). Args: PATH SIGNATURE BODY_FILE RUN_ID.
-- Prints key=value lines: requests, rate, latency percentiles, answers by class.
local threads = {}

function setup(thread)
	thread:set("tid", #threads + 1)
	table.insert(threads, thread)
end

function init(args)
	path, sig, run = args[1], args[2], args[4]
	local f = assert(io.open(args[3], "rb"))
	body = f:read("*a")
	f:close()
	counter, n202, n200, nother = 0, 0, 0, 0
end

function request()
	counter = counter + 1
	return wrk.format("POST", path, {
		["Content-Type"] = "application/json",
		["X-GitHub-Event"] = "push",
		["X-GitHub-Delivery"] = string.format("%s-%d-%d", run, tid, counter),
		["X-Hub-Signature-256"] = "sha256=" .. sig,
	}, body)
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
