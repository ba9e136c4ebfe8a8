/** The load command's help text (command.ts); `prog` is how it names the command. */
export const loadHelp = (prog: string) => `Usage: ${prog} [options]

Load mode: N vehicles, each an MQTT device connection (mqtt.js over TCP) publishing valid muck-truck
fixes to devices/{id}/telemetry, either every --interval seconds each (rate-controlled: vehicles /
interval msgs/s, the vehicles' report times evenly staggered) or as fast as the connections allow.
Connections open --ramp-batch at a time; publishing starts once every process has opened its share (or
connections stopped coming up: --ramp-idle); after a warm-up the measured window runs for --duration
seconds. A dropped connection is retried with exponential backoff and jitter (a broker restart: the
fleet comes back, "reconn" counts the attempts). A vehicle whose report time comes while it is
disconnected misses that report ("missed").

With --processes N the vehicles are split over N worker processes (node:child_process), each with its
own connections and event loop; the progress and the summary are their sum.

Progress goes to stderr: one line updated in place on a terminal, a plain line every --progress-every
seconds otherwise (connections up/total, msgs sent and acknowledged with their rates and the target,
in flight, errors, reconnects, missed reports). At the end a table goes to stderr and the JSON summary
is the LAST line of stdout (sentPerS/ackedPerS over the measured window; expected = target x window;
perProcess when several).

Options:
  --url <url>             broker URL (default mqtt://127.0.0.1:1883)
  -n, --vehicles <n>      vehicles = device connections (default 1000, or the entries in --ids-file)
  -c, --connections <n>   the same as --vehicles
  -i, --interval <s>      report interval of every vehicle, seconds: rate = vehicles / interval
  -r, --rate <msg/s>      overall target rate instead of --interval; 0 = as fast as possible
                          (the default when neither is given)
  -p, --processes <n>     worker processes, or "auto": enough to keep each under the open-files
                          limit (ulimit -n). Default 1: this process alone
  -d, --duration <s>      measured window, seconds (default 10)
  --warmup <s>            publishing before the window, seconds (default 2)
  -w, --window <n>        max unacknowledged QoS 1 publishes per connection; for QoS 0, max
                          messages written per connection per event-loop turn (default 16)
  --qos <0|1>             publish QoS (default 1)
  --payload-bytes <n>     approximate payload size; below the natural ~200 B a minimal fix
                          (ts, lat, lon, speed) is sent, above it a "pad" field is added
  --ids-file <path>       JSON credentials: [{"id","secret"|"password"}] or {"devices":[...]}
                          (the NewDevice[] of a registry seed works; \`sim provision --offline\`
                          writes one as devices.json)
  --prefix <p>            id prefix for generated ids (default "load-": load-00001, ...)
  --password <pattern>    password of generated ids; {id} and {n} are replaced (default "{id}")
  --ramp-batch <n>        first connection attempts in flight at a time, per process (default 50)
  --ramp-pause <ms>       pause after each first attempt, per ramp lane (default 0)
  --ramp-idle <s>         end the ramp once no connection has come up for this long (the broker or
                          this machine is full); the rest keep being opened during the run, and
                          their report slots count as missed. 0 = wait for every first attempt
                          (default 30)
  --backoff-min <ms>      first reconnect delay; doubles per failed attempt (default 1000)
  --backoff-max <ms>      longest reconnect delay (default 30000)
  --source-addresses <a>  local addresses to connect from, vehicle i from the (i mod n)-th, each with
                          its own ephemeral port range: "127.0.0.1-127.0.0.8", "10.0.0.5,10.0.0.6",
                          "none" (the OS picks), or "auto" (the default): towards a loopback broker,
                          enough 127.0.0.x addresses to keep each under 60 % of the port range
  --connect-rate <n>      connection attempts (first ones and reconnects) per second per process at
                          most, so a fleet that cannot all connect does not starve the publishing of
                          those that did (default 1000)
  --drain <ms>            wait for outstanding PUBACKs after the window (default 5000)
  --seed <n>              seed for start positions (default 1)
  --jt808 <host:port>     the vehicles are JT/T 808 terminals of the platform's gateway there instead:
                          vehicle n (1-based) has phone 19 + n in nine digits (as --prepare binds
                          them), authenticates (0x0102) with its password and reports 0x0200, each
                          answered 0x8001 once durable; one process (--vehicles, --interval, --duration,
                          --warmup, --window, --ramp-batch, --ids-file, --password apply)
  --progress-every <s>    seconds between progress lines when stderr is not a terminal (default 1)
  --events                also print {"event":"ramp_done"|"window_start"|"window_end"} lines on
                          stdout as they happen (for a supervising process)
  -q, --quiet             no progress and no table on stderr
  --steps-ipc             (for a parent process over IPC, one process) after each window
                          send {"type":"window","summary":...} and wait for {"type":"step","step":
                          {"rate","warmupS","durationS"}} (another window on the same connections)
                          or {"type":"done"}; the benchmark's rate search uses it
  -h, --help              this text

Preparing a platform for a load run (it must be stopped: it reads its registry at start):
  --prepare <DATA_DIR>    write --vehicles muck trucks and their devices (ids <prefix>00001...,
                          one shared random secret, nominal report interval --interval, default
                          10 s) into the registry of DATA_DIR, and their credentials to --ids-out;
                          then exit. Start the platform and run with --ids-file
  --ids-out <path>        where --prepare writes the credentials (default DATA_DIR/load-devices.json)

Limits: every connection is a file descriptor on both ends (ulimit -n per process: the broker's too)
and, towards one broker address, one local port (net.ipv4.ip_local_port_range); the command warns
when a plan exceeds what this machine shows.

Examples:
  ${prog} --prepare ./data --vehicles 100000 --interval 10      (platform stopped)
  SIMULATE=0 DATA_DIR=./data npm start &
  ${prog} --vehicles 100000 --interval 10 --processes auto --ids-file data/load-devices.json -d 60
  ${prog} --url mqtt://127.0.0.1:1883 -n 1000 -r 5000 -d 30
  ${prog} --prefix truck- --password 'pw-{n}' -n 2000 --qos 0

Exit status: 0 when the run completed (even with errors, see the summary), 2 on bad arguments, 1 when
no connection was up at the start of the window or the run failed.`;
