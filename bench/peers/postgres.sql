-- The PostgreSQL peer: the same deduction and the same 99-occurrence plan chainstore serves,
-- each one function call in one transaction, with synchronous commit (set by compare.sh).
-- Loaded into a fresh database by bench/compare.sh; pgbench drives the *.pgbench scripts.
CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE TABLE account (
    member   bigint PRIMARY KEY,
    balance  bigint NOT NULL CHECK (balance >= 0),
    last_seq bigint NOT NULL DEFAULT 1
);
CREATE TABLE entry (
    member        bigint NOT NULL,
    seq           bigint NOT NULL,
    store         int    NOT NULL,
    amount        bigint NOT NULL,
    balance_after bigint NOT NULL,
    at            timestamptz NOT NULL,
    PRIMARY KEY (member, seq)
);
-- The idempotency table: a repeat answers the first outcome.
CREATE TABLE idem (
    key    text PRIMARY KEY,
    member bigint NOT NULL,
    seq    bigint NOT NULL,
    at     timestamptz NOT NULL
);

-- Deduct `amt` from `m` at store `s` under key `k`: the entry's balance after, or -1 when the
-- balance is short (no overdraft).
CREATE FUNCTION deduct(k text, m bigint, s int, amt bigint) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    b bigint;
    q bigint;
BEGIN
    SELECT e.balance_after INTO b FROM idem i JOIN entry e ON e.member = i.member AND e.seq = i.seq
     WHERE i.key = k;
    IF FOUND THEN
        RETURN b;
    END IF;
    UPDATE account SET balance = balance - amt, last_seq = last_seq + 1
     WHERE member = m AND balance >= amt
    RETURNING balance, last_seq INTO b, q;
    IF NOT FOUND THEN
        RETURN -1;
    END IF;
    INSERT INTO entry VALUES (m, q, s, amt, b, now());
    INSERT INTO idem VALUES (k, m, q, now());
    RETURN b;
END $$;

CREATE TABLE plan (
    id       bigserial PRIMARY KEY,
    key      text UNIQUE NOT NULL,
    resource int NOT NULL,
    first    timestamptz NOT NULL
);
-- No two bookings of one resource overlap: the exclusion constraint is the calendar.
CREATE TABLE booking (
    plan     bigint NOT NULL,
    resource int NOT NULL,
    during   tstzrange NOT NULL,
    EXCLUDE USING gist (resource WITH =, during WITH &&)
);

-- A weekly plan of 99 one-hour occurrences of resource `r` from `first`, all or nothing:
-- the plan id, or -1 when an occurrence conflicts.
CREATE FUNCTION book_plan(k text, r int, first timestamptz) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    p bigint;
BEGIN
    SELECT id INTO p FROM plan WHERE key = k;
    IF FOUND THEN
        RETURN p;
    END IF;
    INSERT INTO plan (key, resource, first) VALUES (k, r, first) RETURNING id INTO p;
    INSERT INTO booking
    SELECT p, r, tstzrange(first + w * interval '1 week', first + w * interval '1 week' + interval '1 hour')
      FROM generate_series(0, 98) AS w;
    RETURN p;
EXCEPTION WHEN exclusion_violation THEN
    RETURN -1;
END $$;
