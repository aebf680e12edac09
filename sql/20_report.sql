-- Purpose: the facts `iotdest report` draws, per device and month (the report adds the
-- all-devices view by summing these rows).
-- Inputs: captures (raw), destinations, ips, flow_domains, platforms (analysis).
-- Outputs: views report_party, report_orgs, report_countries, report_domains,
--          report_platforms, report_quality.

-- Destinations and bytes per party class.
CREATE VIEW report_party AS
SELECT device, year, month, category AS label,
       count(*) AS destinations,
       sum(bytes_out + bytes_in) AS bytes
FROM destinations
GROUP BY device, year, month, category;

-- Bytes per owning organization.
CREATE VIEW report_orgs AS
SELECT device, year, month, organization AS label,
       count(*) AS destinations,
       sum(bytes_out + bytes_in) AS bytes
FROM destinations
GROUP BY device, year, month, organization;

-- Bytes per destination country (of the remote IP; null without a country database).
CREATE VIEW report_countries AS
SELECT device, year, month, country_iso AS label,
       count(*) AS destinations,
       sum(bytes) AS bytes
FROM ips
GROUP BY device, year, month, country_iso;

-- Registrable domains contacted (for what appeared and disappeared month over month).
CREATE VIEW report_domains AS
SELECT DISTINCT device, year, month, COALESCE(registrable_domain, domain) AS label
FROM destinations
WHERE domain IS NOT NULL;

CREATE VIEW report_platforms AS
SELECT device, year, month, platform, confidence, evidence, flows, bytes
FROM platforms;

-- Captures read and with errors; Internet flows and bytes, and those left unattributed.
CREATE VIEW report_capture_counts AS
SELECT device, year, month,
       count(*) AS captures,
       sum(CASE WHEN status <> 'ok' THEN 1 ELSE 0 END) AS captures_with_errors,
       sum(packets) AS packets
FROM captures
GROUP BY device, year, month;

CREATE VIEW report_flow_counts AS
SELECT device, year, month,
       count(*) AS flows,
       sum(CASE WHEN method IS NULL THEN 1 ELSE 0 END) AS flows_unattributed,
       sum(bytes_out + bytes_in) AS bytes,
       sum(CASE WHEN method IS NULL THEN bytes_out + bytes_in ELSE 0 END) AS bytes_unattributed
FROM flow_domains
WHERE remote_scope = 'internet'
GROUP BY device, year, month;

CREATE VIEW report_quality AS
SELECT c.device, c.year, c.month, c.captures, c.captures_with_errors, c.packets,
       COALESCE(f.flows, 0) AS flows,
       COALESCE(f.flows_unattributed, 0) AS flows_unattributed,
       COALESCE(f.bytes, 0) AS bytes,
       COALESCE(f.bytes_unattributed, 0) AS bytes_unattributed
FROM report_capture_counts c
LEFT JOIN report_flow_counts f
  ON f.device = c.device AND f.year = c.year AND f.month = c.month;
