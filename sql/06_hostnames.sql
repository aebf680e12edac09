-- Purpose: one row per device, month and hostname the device resolved (a DNS query) or named on
-- a flow (TLS/QUIC server name, HTTP Host): how often and when. The legacy unique_domains lists
-- are drawn from it, so exporting never re-reads the raw tables.
--   dns_rows    rows of `dns` whose query is the hostname (one per answer record);
--   name_rows   rows of `names` with the hostname (IP literals in Host/SNI are not hostnames).
-- Inputs: dns, names (raw layer).
-- Outputs: view hostnames_v (table hostnames).

CREATE VIEW hostnames_v AS
SELECT device, year, month, hostname,
       CAST(SUM(dns_rows) AS BIGINT) AS dns_rows,
       CAST(SUM(name_rows) AS BIGINT) AS name_rows,
       MIN(first_seen) AS first_seen, MAX(last_seen) AS last_seen
FROM (
  SELECT device, year, month, query AS hostname,
         COUNT(*) AS dns_rows, 0 AS name_rows, MIN(ts) AS first_seen, MAX(ts) AS last_seen
  FROM dns WHERE query IS NOT NULL
  GROUP BY device, year, month, query
  UNION ALL
  SELECT device, year, month, name AS hostname,
         0 AS dns_rows, COUNT(*) AS name_rows, MIN(ts) AS first_seen, MAX(ts) AS last_seen
  FROM names WHERE name IS NOT NULL AND ip_scope(name) IS NULL
  GROUP BY device, year, month, name
)
GROUP BY device, year, month, hostname;
