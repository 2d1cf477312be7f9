-- Workload for sqlite.sh: 100,000 rows inserted through a recursive CTE,
-- then aggregates, an index, a join, a sort, updates and deletes.
PRAGMA journal_mode = DELETE;
PRAGMA synchronous = OFF; -- no fsync: the test is about memory, not disks
CREATE TABLE item (
    id INTEGER PRIMARY KEY,
    grp INTEGER NOT NULL,
    name TEXT NOT NULL,
    price REAL NOT NULL,
    blob BLOB
);
BEGIN;
WITH RECURSIVE seq(x) AS (
    SELECT 1
    UNION ALL
    SELECT x + 1 FROM seq WHERE x < 100000
)
INSERT INTO item (id, grp, name, price, blob)
SELECT x,
       (x * 7919) % 500,
       printf('item-%06d-%s', x, substr('abcdefghijklmnopqrstuvwxyz', 1 + x % 26, 1 + x % 7)),
       (x % 1000) / 8.0,
       zeroblob(x % 300)
FROM seq;
COMMIT;

SELECT 'rows', count(*), sum(length(name)), sum(length(blob)), total(price) FROM item;
SELECT 'groups', count(DISTINCT grp), min(grp), max(grp) FROM item;
SELECT 'top groups', grp, count(*), round(avg(price), 4)
FROM item GROUP BY grp ORDER BY sum(price) DESC, grp LIMIT 5;

CREATE TABLE grp_info (grp INTEGER PRIMARY KEY, label TEXT);
WITH RECURSIVE g(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM g WHERE x < 499)
INSERT INTO grp_info SELECT x, printf('group %04x', x * 31) FROM g;

CREATE INDEX item_name ON item (name);
CREATE INDEX item_grp_price ON item (grp, price);
SELECT 'by index', id, name FROM item WHERE name BETWEEN 'item-050000' AND 'item-050005' ORDER BY name;
SELECT 'range', count(*), round(sum(price), 2) FROM item WHERE grp = 42 AND price > 60;

SELECT 'join', gi.label, count(*), max(i.name)
FROM item AS i JOIN grp_info AS gi ON gi.grp = i.grp
WHERE i.id % 37 = 0
GROUP BY gi.label ORDER BY count(*) DESC, gi.label LIMIT 8;

SELECT 'sorted', name FROM item ORDER BY substr(name, 13) DESC, id LIMIT 5;
SELECT 'distinct suffixes', count(DISTINCT substr(name, 13)) FROM item;
SELECT 'concat', length(group_concat(name, ',')) FROM (SELECT name FROM item ORDER BY price, id LIMIT 20000);

UPDATE item SET name = name || '-updated', price = price * 2 WHERE id % 3 = 0;
DELETE FROM item WHERE grp BETWEEN 100 AND 199;
SELECT 'after update', count(*), round(total(price), 2), sum(name LIKE '%-updated') FROM item;
PRAGMA integrity_check;
VACUUM;
SELECT 'after vacuum', count(*), (SELECT count(*) FROM sqlite_master) FROM item;
