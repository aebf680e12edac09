-- Purpose: attribute every flow to the domain the device asked for, in this order:
--   sni       a TLS/QUIC server name or HTTP Host seen on that flow, unless it is an IP
--             literal (`Host: 184.73.191.189`, an IPv6 address): that is not a name, and the
--             flow falls through to the DNS rules;
--   dns       the latest DNS answer of the same device mapping the flow's remote IP, at or before
--             the flow's first packet (plus ${skew_seconds} s of clock skew), within the
--             look-back window (${lookback_seconds} s);
--   dns-month any DNS answer of the same device in the same month (the legacy rule);
--   dns-other a DNS answer of another device in the same month;
--   null      unattributed.
-- The domain is the query name; `cname` is the end of its CNAME chain (the owner name of the
-- address record) when the chain was not empty.
-- Inputs: flows, names (raw layer, one device-month when run month by month); dns_addresses
--         (00, over the device's answers inside the look-back window); dns_month_latest,
--         dns_other_top2 (01, the month's shared tables).
-- Outputs: view flow_domains_v (one row per flow; materialised as table flow_domains).

CREATE VIEW flow_ids AS
SELECT
  row_number() OVER (ORDER BY device, year, month, capture, first_ts, proto, local_ip, local_port, remote_ip, remote_port) AS flow_id,
  *
FROM flows;

CREATE VIEW flow_sni AS
SELECT flow_id, name FROM (
  SELECT f.flow_id, n.name,
         row_number() OVER (PARTITION BY f.flow_id ORDER BY n.ts, n.name) AS rn
  FROM flow_ids f
  JOIN names n
    ON n.device = f.device AND n.year = f.year AND n.month = f.month AND n.capture = f.capture
   AND n.server_ip = f.remote_ip AND n.server_port = f.remote_port
   AND n.client_ip = f.local_ip AND n.client_port = f.local_port
  WHERE n.name IS NOT NULL AND n.name <> '' AND ip_scope(n.name) IS NULL
) WHERE rn = 1;

-- The `dns` rule as an interval join. Devices re-resolve the same names all day, so joining
-- every flow to every earlier answer for its address grows as flows x answers. Instead the
-- answers of one device for one address are first reduced to one per timestamp (the first by
-- query, cname: the rule's tie-break), then to runs: consecutive answers with the same query
-- and cname, split where two answers are more than the look-back apart. For a flow at time t
-- the rule's answer (the latest at or before t + skew, if not older than t - lookback) belongs
-- to the run R = [s, e] with s - skew <= t < next_s - skew and t <= e + lookback, where next_s
-- starts the next run of that device and address. These intervals do not overlap, so each flow
-- matches at most one run.
CREATE VIEW dns_answer_ts AS
SELECT device, ip, ts, query, cname FROM (
  SELECT device, ip, ts, query, cname,
         row_number() OVER (PARTITION BY device, ip, ts ORDER BY query, cname) AS rn
  FROM dns_addresses
) WHERE rn = 1;

CREATE VIEW dns_answer_breaks AS
SELECT device, ip, ts, query, cname,
       CASE
         WHEN lag(ts) OVER w IS NULL THEN 1
         WHEN lag(query) OVER w IS DISTINCT FROM query THEN 1
         WHEN lag(cname) OVER w IS DISTINCT FROM cname THEN 1
         WHEN ts - lag(ts) OVER w > INTERVAL '${lookback_seconds} seconds' THEN 1
         ELSE 0
       END AS new_run
FROM dns_answer_ts
WINDOW w AS (PARTITION BY device, ip ORDER BY ts);

CREATE VIEW dns_runs AS
SELECT device, ip, query, cname, min(ts) AS run_start, max(ts) AS run_end
FROM (
  SELECT device, ip, ts, query, cname,
         sum(new_run) OVER (PARTITION BY device, ip ORDER BY ts ROWS UNBOUNDED PRECEDING) AS run_id
  FROM dns_answer_breaks
)
GROUP BY device, ip, run_id, query, cname;

CREATE VIEW dns_run_intervals AS
SELECT device, ip, query, cname,
       run_start - INTERVAL '${skew_seconds} seconds' AS valid_from,
       lead(run_start) OVER (PARTITION BY device, ip ORDER BY run_start)
         - INTERVAL '${skew_seconds} seconds' AS valid_before,
       run_end + INTERVAL '${lookback_seconds} seconds' AS valid_to
FROM dns_runs;

CREATE VIEW flow_dns_time AS
SELECT f.flow_id, r.query, r.cname
FROM flow_ids f
JOIN dns_run_intervals r ON r.device = f.device AND r.ip = f.remote_ip
WHERE f.first_ts >= r.valid_from
  AND (r.valid_before IS NULL OR f.first_ts < r.valid_before)
  AND f.first_ts <= r.valid_to;

-- `dns-month`: the latest answer (ties: query, cname) of the device for the address in the month.
CREATE VIEW flow_dns_month AS
SELECT f.flow_id, a.query, a.cname
FROM flow_ids f
JOIN dns_month_latest a ON a.device = f.device AND a.year = f.year AND a.month = f.month AND a.ip = f.remote_ip;

-- `dns-other`: the latest answer of any other device for the address in the month (ties: device,
-- query, cname), from the month's two best devices.
CREATE VIEW flow_dns_other AS
SELECT flow_id, query, cname FROM (
  SELECT f.flow_id, a.query, a.cname,
         row_number() OVER (PARTITION BY f.flow_id ORDER BY a.rank_in_month) AS rn
  FROM flow_ids f
  JOIN dns_other_top2 a ON a.device <> f.device AND a.year = f.year AND a.month = f.month AND a.ip = f.remote_ip
) WHERE rn = 1;

CREATE VIEW flow_domains_v AS
SELECT
  f.device, f.year, f.month,
  f.capture, f.first_ts, f.last_ts, f.proto, f.ip_version,
  f.local_ip, f.local_port, f.remote_ip, f.remote_port, f.initiator,
  f.packets_out, f.bytes_out, f.packets_in, f.bytes_in,
  ip_scope(f.remote_ip) AS remote_scope,
  COALESCE(s.name, t.query, m.query, o.query) AS domain,
  CASE
    WHEN s.name IS NOT NULL THEN CASE WHEN t.query = s.name THEN t.cname WHEN m.query = s.name THEN m.cname END
    WHEN t.query IS NOT NULL THEN t.cname
    WHEN m.query IS NOT NULL THEN m.cname
    ELSE o.cname
  END AS cname,
  CASE
    WHEN s.name IS NOT NULL THEN 'sni'
    WHEN t.query IS NOT NULL THEN 'dns'
    WHEN m.query IS NOT NULL THEN 'dns-month'
    WHEN o.query IS NOT NULL THEN 'dns-other'
  END AS method
FROM flow_ids f
LEFT JOIN flow_sni s ON s.flow_id = f.flow_id
LEFT JOIN flow_dns_time t ON t.flow_id = f.flow_id
LEFT JOIN flow_dns_month m ON m.flow_id = f.flow_id
LEFT JOIN flow_dns_other o ON o.flow_id = f.flow_id;
