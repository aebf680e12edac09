-- Purpose: attribute every flow to the domain the device asked for, in this order:
--   sni       a TLS/QUIC server name or HTTP Host seen on that flow;
--   dns       the latest DNS answer of the same device mapping the flow's remote IP, at or before
--             the flow's first packet (plus ${skew_seconds} s of clock skew), within the
--             look-back window (${lookback_seconds} s);
--   dns-month any DNS answer of the same device in the same month (the legacy rule);
--   dns-other a DNS answer of another device in the same month;
--   null      unattributed.
-- The domain is the query name; `cname` is the end of its CNAME chain (the owner name of the
-- address record) when the chain was not empty.
-- Inputs: flows, names, dns (raw layer, partitioned by device/year/month).
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
  WHERE n.name IS NOT NULL AND n.name <> ''
) WHERE rn = 1;

-- Address answers (A/AAAA, and HTTPS/SVCB address hints) with the name asked for.
CREATE VIEW dns_addresses AS
SELECT device, year, month, ts, query, answer AS ip,
       CASE WHEN rr_name <> query THEN rr_name END AS cname
FROM dns
WHERE section = 'answer' AND rr_type IN ('A', 'AAAA', 'HTTPS', 'SVCB')
  AND query IS NOT NULL AND answer IS NOT NULL;

CREATE VIEW flow_dns_time AS
SELECT flow_id, query, cname FROM (
  SELECT f.flow_id, a.query, a.cname,
         row_number() OVER (PARTITION BY f.flow_id ORDER BY a.ts DESC, a.query, a.cname) AS rn
  FROM flow_ids f
  JOIN dns_addresses a ON a.device = f.device AND a.ip = f.remote_ip
  WHERE a.ts <= f.first_ts + INTERVAL '${skew_seconds} seconds'
    AND a.ts >= f.first_ts - INTERVAL '${lookback_seconds} seconds'
) WHERE rn = 1;

CREATE VIEW flow_dns_month AS
SELECT flow_id, query, cname FROM (
  SELECT f.flow_id, a.query, a.cname,
         row_number() OVER (PARTITION BY f.flow_id ORDER BY a.ts DESC, a.query, a.cname) AS rn
  FROM flow_ids f
  JOIN dns_addresses a ON a.device = f.device AND a.year = f.year AND a.month = f.month AND a.ip = f.remote_ip
) WHERE rn = 1;

CREATE VIEW flow_dns_other AS
SELECT flow_id, query, cname FROM (
  SELECT f.flow_id, a.query, a.cname,
         row_number() OVER (PARTITION BY f.flow_id ORDER BY a.ts DESC, a.device, a.query, a.cname) AS rn
  FROM flow_ids f
  JOIN dns_addresses a ON a.device <> f.device AND a.year = f.year AND a.month = f.month AND a.ip = f.remote_ip
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
