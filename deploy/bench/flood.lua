-- A paced flood for the noisy-neighbour row: each connection waits `pause_ms` between requests,
-- so `-c N` sends at most N * 1000 / pause_ms requests a second.
local pause_ms = tonumber(os.getenv("FLOOD_PAUSE_MS") or "4")
function delay()
  return pause_ms
end
