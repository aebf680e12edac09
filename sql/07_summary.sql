-- Purpose: one row per device and month: captures read and those with errors, packets, flows,
-- and the Internet flows and bytes with the share no rule attributed to a domain. The report's
-- data-quality facts, kept small so the report never re-reads flows.
-- Inputs: captures (raw), flow_domains (02).
-- Outputs: view summary_v (table summary).

CREATE VIEW summary_captures AS
SELECT device, year, month,
       count(*) AS captures,
       sum(CASE WHEN status <> 'ok' THEN 1 ELSE 0 END) AS captures_with_errors,
       sum(packets) AS packets
FROM captures
GROUP BY device, year, month;

CREATE VIEW summary_flows AS
SELECT device, year, month,
       count(*) AS flows,
       sum(CASE WHEN remote_scope = 'internet' THEN 1 ELSE 0 END) AS internet_flows,
       sum(CASE WHEN remote_scope = 'internet' AND method IS NULL THEN 1 ELSE 0 END) AS internet_flows_unattributed,
       sum(CASE WHEN remote_scope = 'internet' THEN bytes_out + bytes_in ELSE 0 END) AS internet_bytes,
       sum(CASE WHEN remote_scope = 'internet' AND method IS NULL THEN bytes_out + bytes_in ELSE 0 END) AS internet_bytes_unattributed
FROM flow_domains
GROUP BY device, year, month;

CREATE VIEW summary_v AS
SELECT COALESCE(c.device, f.device) AS device,
       COALESCE(c.year, f.year) AS year,
       COALESCE(c.month, f.month) AS month,
       CAST(COALESCE(c.captures, 0) AS BIGINT) AS captures,
       CAST(COALESCE(c.captures_with_errors, 0) AS BIGINT) AS captures_with_errors,
       CAST(COALESCE(c.packets, 0) AS BIGINT) AS packets,
       CAST(COALESCE(f.flows, 0) AS BIGINT) AS flows,
       CAST(COALESCE(f.internet_flows, 0) AS BIGINT) AS internet_flows,
       CAST(COALESCE(f.internet_flows_unattributed, 0) AS BIGINT) AS internet_flows_unattributed,
       CAST(COALESCE(f.internet_bytes, 0) AS BIGINT) AS internet_bytes,
       CAST(COALESCE(f.internet_bytes_unattributed, 0) AS BIGINT) AS internet_bytes_unattributed
FROM summary_captures c
FULL OUTER JOIN summary_flows f
  ON f.device = c.device AND f.year = c.year AND f.month = c.month;
