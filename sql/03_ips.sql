-- Purpose: one row per device, month and remote Internet IP: the domain most of its bytes were
-- attributed to (ties: the earlier method, then the name), its AS and country.
-- Inputs: flow_domains (materialised from 01).
-- Outputs: view ips_v (table ips).

CREATE VIEW ip_domains AS
SELECT device, year, month, remote_ip AS ip, domain, method,
       SUM(bytes_out + bytes_in) AS bytes, COUNT(*) AS flows
FROM flow_domains
WHERE remote_scope = 'internet'
GROUP BY device, year, month, remote_ip, domain, method;

CREATE VIEW ips_v AS
SELECT device, year, month, ip, domain, method,
       asn(ip) AS asn, as_org(ip) AS as_org,
       country_iso(ip) AS country_iso, country_name(ip) AS country_name,
       total_flows AS flows, total_bytes AS bytes
FROM (
  SELECT *,
         SUM(flows) OVER (PARTITION BY device, year, month, ip) AS total_flows,
         SUM(bytes) OVER (PARTITION BY device, year, month, ip) AS total_bytes,
         row_number() OVER (
           PARTITION BY device, year, month, ip
           ORDER BY domain IS NULL, bytes DESC,
                    CASE method WHEN 'sni' THEN 1 WHEN 'dns' THEN 2 WHEN 'dns-month' THEN 3 WHEN 'dns-other' THEN 4 ELSE 5 END,
                    domain
         ) AS rn
  FROM ip_domains
) WHERE rn = 1;
