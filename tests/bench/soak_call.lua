-- wrk: a fixed number of authenticated MCP tools/call hello_world on a
-- stateless endpoint, for the soak. From the environment, never from argv:
--   MCPAUTH_BENCH_CALLS     calls in all, shared by the
--   MCPAUTH_BENCH_THREADS   threads (wrk's -t);
--   MCPAUTH_BENCH_TOKEN     the access token, or
--   MCPAUTH_BENCH_TOKENS    a file of tokens, one a line: each thread takes
--                           every threads-th line from its own number on and
--                           moves to its next token every
--   MCPAUTH_BENCH_EVERY     calls (10), so that no two threads share one;
--   MCPAUTH_BENCH_PROGRESS  a file name prefix: each thread writes the calls
--                           answered so far to PREFIX.NUMBER now and then,
--                           and "done" on a second line when it has made its
--                           share; it then stops (wrk itself runs until
--                           SIGINT: its duration does not end a thread early).
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("number", threads)
end

function init(args)
  count_threads = tonumber(os.getenv("MCPAUTH_BENCH_THREADS"))
  total = tonumber(os.getenv("MCPAUTH_BENCH_CALLS"))
  every = tonumber(os.getenv("MCPAUTH_BENCH_EVERY") or "10")
  progress = os.getenv("MCPAUTH_BENCH_PROGRESS") .. "." .. number
  progress_aside = os.getenv("MCPAUTH_BENCH_PROGRESS") .. "-new." .. number
  sent, answered, finished = 0, 0, false
  tokens = {}
  local file = os.getenv("MCPAUTH_BENCH_TOKENS")
  if file and file ~= "" then
    local line_number = 0
    for line in io.lines(file) do
      if (line_number % count_threads) == number - 1 then tokens[#tokens + 1] = line end
      line_number = line_number + 1
    end
  else
    tokens[1] = os.getenv("MCPAUTH_BENCH_TOKEN")
  end
  share = math.ceil(total / count_threads)
  body = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"hello_world"}}'
  headers = {
    ["Content-Type"] = "application/json",
    ["Accept"] = "application/json, text/event-stream",
    ["MCP-Protocol-Version"] = "2025-11-25",
  }
  report()
end

-- Written aside, then renamed over the file, so that a reader never finds
-- it empty or half written.
function report(done)
  local f = io.open(progress_aside, "w")
  f:write(answered, "\n", done and "done\n" or "")
  f:close()
  os.rename(progress_aside, progress)
end

function request()
  local i = math.floor(sent / every) % #tokens + 1
  sent = sent + 1
  headers["Authorization"] = "Bearer " .. tokens[i]
  return wrk.format("POST", nil, headers, body)
end

function response(status, headers, body)
  if status ~= 200 then
    io.stderr:write("unexpected status " .. status .. "\n")
  end
  answered = answered + 1
  if finished then return end
  if answered >= share then
    finished = true
    report(true)
    wrk.thread:stop()
  elseif answered % 5000 == 0 then
    report()
  end
end
