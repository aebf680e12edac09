-- Purpose: per device and month, each IoT platform whose hostname patterns match a name the
-- device resolved or contacted, with the hostnames as evidence and a confidence:
--   high   contacted (flows attributed) through 2+ hostnames, or on an MQTT port (1883/8883);
--   medium contacted through one hostname;
--   low    only resolved in DNS, never contacted.
-- Inputs: dns, names, flow_domains.
-- Outputs: view platforms_v (table platforms).

CREATE VIEW platform_hosts AS
SELECT DISTINCT device, year, month, host, iot_platform(host) AS platform FROM (
  SELECT device, year, month, query AS host FROM dns WHERE query IS NOT NULL
  UNION ALL
  SELECT device, year, month, name AS host FROM names
  WHERE name IS NOT NULL AND ip_scope(name) IS NULL
  UNION ALL
  SELECT device, year, month, domain AS host FROM flow_domains WHERE domain IS NOT NULL
) WHERE iot_platform(host) IS NOT NULL;

CREATE VIEW platform_contacts AS
SELECT device, year, month, domain AS host,
       COUNT(*) AS flows,
       SUM(bytes_out + bytes_in) AS bytes,
       MAX(CASE WHEN remote_port IN (1883, 8883) THEN 1 ELSE 0 END) AS mqtt
FROM flow_domains
WHERE domain IS NOT NULL
GROUP BY device, year, month, domain;

CREATE VIEW platforms_v AS
SELECT device, year, month, platform,
       string_agg(host, ';' ORDER BY host) AS evidence,
       COUNT(*) AS hostnames,
       SUM(CASE WHEN flows IS NOT NULL THEN 1 ELSE 0 END) AS contacted_hostnames,
       COALESCE(SUM(flows), 0) AS flows,
       COALESCE(SUM(bytes), 0) AS bytes,
       CASE
         WHEN SUM(CASE WHEN flows IS NOT NULL THEN 1 ELSE 0 END) >= 2 OR MAX(mqtt) = 1 THEN 'high'
         WHEN SUM(CASE WHEN flows IS NOT NULL THEN 1 ELSE 0 END) = 1 THEN 'medium'
         ELSE 'low'
       END AS confidence
FROM (
  SELECT h.device, h.year, h.month, h.platform, h.host, c.flows, c.bytes, c.mqtt
  FROM platform_hosts h
  LEFT JOIN platform_contacts c ON c.device = h.device AND c.year = h.year AND c.month = h.month AND c.host = h.host
)
GROUP BY device, year, month, platform;
