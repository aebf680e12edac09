-- Purpose: the per device-month facts the legacy layout (analysis_longitudinal/) is made of.
--   legacy_unique     every name seen in DNS responses or TLS server names that month (PTR
--                     names under .arpa, .local names, IP literals and the root excluded);
--   legacy_contacted  names that the device's Internet flows were attributed to;
--   legacy_ips        remote Internet IPs with their attributed domain and country;
--   legacy_categorized contacted domains with split, category, organisation, query types;
--   legacy_platforms  detected IoT platforms with evidence;
--   legacy_months     every analysed device-month, so that a month without destinations still
--                     gets its folder with empty lists (as the Python pipeline writes it).
-- Inputs: summary, hostnames, ips, destinations, platforms (analysis tables only: exporting a month never
--         re-reads raw partitions or flows).
-- Outputs: the five views above; export-legacy and the drop-in commands read them.

CREATE VIEW legacy_unique AS
SELECT DISTINCT device, year, month, hostname AS domain
FROM hostnames
WHERE hostname <> '.' AND hostname NOT LIKE '%.arpa' AND hostname NOT LIKE '%.local'
  AND hostname <> 'local' AND ip_scope(hostname) IS NULL;

-- (destinations holds one row per Internet destination; its domain is set exactly when the
-- flows were attributed to a name.)
CREATE VIEW legacy_contacted AS
SELECT DISTINCT device, year, month, domain
FROM destinations
WHERE domain IS NOT NULL;

CREATE VIEW legacy_ips AS
SELECT device, year, month, ip, domain, country_iso, country_name
FROM ips;

CREATE VIEW legacy_categorized AS
SELECT device, year, month, domain, registrable_domain, sld, tld, category, organization, query_types
FROM destinations
WHERE domain IS NOT NULL;

CREATE VIEW legacy_platforms AS
SELECT device, year, month, platform, evidence, confidence, contacted_hostnames, flows
FROM platforms;

CREATE VIEW legacy_months AS
SELECT DISTINCT device, year, month
FROM summary;
