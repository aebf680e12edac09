-- Purpose: one row per device, month and TLS client fingerprint: the JA4 of the ClientHellos the
-- device sent (TLS over TCP `t…`, QUIC `q…`), its raw form, the JA3 hashes seen with it, the
-- server names it was used for, how many hellos, the flows they opened and those flows' bytes,
-- and when it was first and last seen in the month. A firmware update that changes the
-- device's TLS stack shows up as a new JA4 (the report marks the month it first appears).
-- Inputs: names (raw layer, rows with a fingerprint), flow_domains (02).
-- Outputs: view fingerprints_v (table fingerprints).

CREATE VIEW fingerprint_hellos AS
SELECT device, year, month, capture, ts, ja4, ja4_r, ja3, name,
       client_ip, client_port, server_ip, server_port,
       CASE WHEN protocol = 'quic' THEN 'udp' ELSE 'tcp' END AS proto
FROM names
WHERE ja4 IS NOT NULL;

-- The flows a hello opened (same capture and 5-tuple; the flow's protocol is its transport).
CREATE VIEW fingerprint_flows AS
SELECT h.device, h.year, h.month, h.ja4,
       count(*) AS flows,
       sum(f.bytes_out + f.bytes_in) AS bytes
FROM (SELECT DISTINCT device, year, month, capture, ja4, client_ip, client_port, server_ip, server_port, proto
      FROM fingerprint_hellos) h
JOIN flow_domains f
  ON f.device = h.device AND f.year = h.year AND f.month = h.month AND f.capture = h.capture
 AND f.local_ip = h.client_ip AND f.local_port = h.client_port
 AND f.remote_ip = h.server_ip AND f.remote_port = h.server_port AND f.proto = h.proto
GROUP BY h.device, h.year, h.month, h.ja4;

CREATE VIEW fingerprint_ja3 AS
SELECT device, year, month, ja4, string_agg(ja3, ';' ORDER BY ja3) AS ja3
FROM (SELECT DISTINCT device, year, month, ja4, ja3 FROM fingerprint_hellos)
GROUP BY device, year, month, ja4;

CREATE VIEW fingerprint_names AS
SELECT device, year, month, ja4, string_agg(name, ';' ORDER BY name) AS server_names
FROM (SELECT DISTINCT device, year, month, ja4, name FROM fingerprint_hellos WHERE name IS NOT NULL)
GROUP BY device, year, month, ja4;

CREATE VIEW fingerprints_v AS
SELECT h.device, h.year, h.month, h.ja4, h.ja4_r,
       j.ja3, n.server_names,
       CAST(h.hellos AS BIGINT) AS hellos,
       CAST(COALESCE(f.flows, 0) AS BIGINT) AS flows,
       CAST(COALESCE(f.bytes, 0) AS BIGINT) AS bytes,
       h.first_seen, h.last_seen
FROM (SELECT device, year, month, ja4, min(ja4_r) AS ja4_r, count(*) AS hellos,
             min(ts) AS first_seen, max(ts) AS last_seen
      FROM fingerprint_hellos
      GROUP BY device, year, month, ja4) h
LEFT JOIN fingerprint_ja3 j
  ON j.device = h.device AND j.year = h.year AND j.month = h.month AND j.ja4 = h.ja4
LEFT JOIN fingerprint_names n
  ON n.device = h.device AND n.year = h.year AND n.month = h.month AND n.ja4 = h.ja4
LEFT JOIN fingerprint_flows f
  ON f.device = h.device AND f.year = h.year AND f.month = h.month AND f.ja4 = h.ja4;
