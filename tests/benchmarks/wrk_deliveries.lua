-- Signed webhook deliveries for wrk, each sent once (ceilings.intake_wrk).
--
--   wrk -t2 -c6 -d10s -s wrk_deliveries.lua URL -- FILE THREADS SHOP TOPIC
--
-- FILE holds one delivery per line, prepared by Python (which signs them):
-- "<hmac>\t<webhook id>\t<event id>\t<triggered at>\t<compact JSON body>".
-- Thread i of THREADS sends lines i, i + THREADS, ...; a thread that runs
-- out starts again from its first line (the server then stores duplicates,
-- which the caller counts and reports).

local next_thread = 0

function setup(thread)
   thread:set("thread_index", next_thread)
   next_thread = next_thread + 1
end

function init(args)
   local path, threads, shop, topic = args[1], tonumber(args[2]), args[3], args[4]
   requests = {}
   local line_number = 0
   for line in io.lines(path) do
      if line_number % threads == thread_index then
         local mac, hook, event, triggered, body =
            line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
         local headers = {
            ["Content-Type"] = "application/json",
            ["X-Shopify-Topic"] = topic,
            ["X-Shopify-Hmac-Sha256"] = mac,
            ["X-Shopify-Shop-Domain"] = shop,
            ["X-Shopify-API-Version"] = "2026-10",
            ["X-Shopify-Webhook-Id"] = hook,
            ["X-Shopify-Event-Id"] = event,
            ["X-Shopify-Triggered-At"] = triggered,
         }
         requests[#requests + 1] = wrk.format("POST", nil, headers, body)
      end
      line_number = line_number + 1
   end
   sent = 0
end

function request()
   sent = sent + 1
   return requests[(sent - 1) % #requests + 1]
end
