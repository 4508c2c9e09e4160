-- wrk script: POSTs realistic Postmark Delivery webhooks, each with a distinct MessageID, and counts 2xx answers.
-- Every thread numbers its requests; thread ids keep MessageIDs distinct across threads.

local threads = {}
local counter = 0

function setup(thread)
    counter = counter + 1
    thread:set("tid", counter)
    table.insert(threads, thread)
end

function init(args)
    seq = 0
    ok = 0
    bad = 0
    token = os.getenv("BENCH_TOKEN") or "bench-token"
    server = os.getenv("BENCH_SERVER_ID") or "1"
    path = "/postmark/webhook/" .. server
    wrk.headers["Content-Type"] = "application/json"
    wrk.headers["X-Webhook-Token"] = token
end

function request()
    seq = seq + 1
    local id = string.format("%08x-%04x-4%03x-8%03x-%012x", tid, seq % 65536, seq % 4096, tid % 4096, seq)
    local body = '{"RecordType":"Delivery","ServerID":23,"MessageStream":"outbound",' ..
        '"MessageID":"' .. id .. '","Recipient":"john.doe.' .. seq .. '@example.com",' ..
        '"Tag":"welcome-email","DeliveredAt":"2026-12-03T16:33:54.9070259Z",' ..
        '"Details":"smtp;250 2.0.0 OK 1575563634 q25si1097402qtb.316 - gsmtp",' ..
        '"Metadata":{"odoo_db":"prod","odoo_message_id":"' .. seq .. '","odoo_partner_id":"' .. tid .. '"}}'
    return wrk.format("POST", path, nil, body)
end

function response(status, headers, body)
    if status >= 200 and status < 300 then ok = ok + 1 else bad = bad + 1 end
end

function done(summary, latency, requests)
    local total_ok, total_bad = 0, 0
    for _, thread in ipairs(threads) do
        total_ok = total_ok + thread:get("ok")
        total_bad = total_bad + thread:get("bad")
    end
    io.write(string.format("BENCH ok=%d bad=%d seconds=%.3f p50_ms=%.3f p99_ms=%.3f\n", total_ok, total_bad,
        summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
