-- Purpose: the facts `iotdest report` draws, per device and month (the report adds the
-- all-devices view by summing these rows).
-- Inputs: destinations, ips, platforms, summary (the small analysis tables; the report never
--         reads raw partitions or flows).
-- Outputs: views report_party, report_orgs, report_countries, report_domains,
--          report_platforms, report_quality, report_geo.

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
CREATE VIEW report_quality AS
SELECT device, year, month, captures, captures_with_errors, packets,
       internet_flows AS flows,
       internet_flows_unattributed AS flows_unattributed,
       internet_bytes AS bytes,
       internet_bytes_unattributed AS bytes_unattributed
FROM summary;

-- Internet IPs and their bytes, and those with a country and with an AS (from the databases
-- given to analyze: --geo-db, --asn-db).
CREATE VIEW report_geo AS
SELECT device, year, month,
       count(*) AS ips,
       sum(CASE WHEN country_iso IS NOT NULL THEN 1 ELSE 0 END) AS ips_country,
       sum(CASE WHEN asn IS NOT NULL OR as_org IS NOT NULL THEN 1 ELSE 0 END) AS ips_as,
       sum(bytes) AS ip_bytes,
       sum(CASE WHEN country_iso IS NOT NULL THEN bytes ELSE 0 END) AS bytes_country,
       sum(CASE WHEN asn IS NOT NULL OR as_org IS NOT NULL THEN bytes ELSE 0 END) AS bytes_as
FROM ips
GROUP BY device, year, month;

-- TLS client stacks (JA4) per device and month, with the month each stack first appears in
-- (`first_month`, YYYY-MM): a new stack is a firmware or library change.
CREATE VIEW report_fingerprints AS
SELECT device, year, month, ja4, ja3, server_names, hellos, flows,
       min(year || '-' || month) OVER (PARTITION BY device, ja4) AS first_month
FROM fingerprints;
