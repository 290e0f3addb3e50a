-- Signed webhook deliveries for wrk, each sent once (ceilings.intake_wrk).
--
--   wrk -t2 -c6 -d10s -s wrk_deliveries.lua URL -- FILE THREADS
--
-- FILE holds one delivery per line, prepared (and signed) by Python:
-- its headers as "Name: value", then its compact JSON body, tab-separated.
-- Thread i of THREADS sends lines i, i + THREADS, ...; a thread that runs
-- out starts again from its first line (the server then stores duplicates,
-- which the caller counts and reports).

local next_thread = 0

function setup(thread)
   thread:set("thread_index", next_thread)
   next_thread = next_thread + 1
end

function init(args)
   local path, threads = args[1], tonumber(args[2])
   requests = {}
   local line_number = 0
   for line in io.lines(path) do
      if line_number % threads == thread_index then
         local fields = {}
         for field in line:gmatch("[^\t]+") do
            fields[#fields + 1] = field
         end
         local body = table.remove(fields)
         local headers = {}
         for _, field in ipairs(fields) do
            local name, value = field:match("^([^:]+): (.*)$")
            headers[name] = value
         end
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
