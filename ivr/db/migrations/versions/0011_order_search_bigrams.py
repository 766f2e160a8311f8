"""work_orders on PostgreSQL: bigram indexes for the search of two-character words in the content and the address

pg_trgm (migration 0010) cannot narrow `LIKE '%古井%'`: a two-character pattern has no trigram, so a rare word
scanned the table newest first (0.56 s at 10 million orders) and a word found nowhere read all of it. Here each
text's overlapping two-character pieces (bigrams) go into a GIN index, through a function of our own:
`hotline_bigrams(text)`. A piece is the two characters' code points packed into a bigint: comparing integers
builds the index faster than comparing text under the database's collation (measured: 20 s against 34 s for
1 million contents), and no collation can change the order of its keys.

For a two-character text, `hotline_bigrams(column) @> hotline_bigrams(text)` holds exactly when the column contains
the text, so `OrderQueries.search` uses it in place of the LIKE. The trigram indexes stay, for 3+ characters: with
the bigram condition there, the planner multiplies the pieces' frequencies as if independent, takes a common word
for a rare one and reads every match (docs/benchmarks.md).

Revision ID: 0011
Revises: 0010
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

BIGRAM_COLUMNS = ("content", "address")
PIECE_STATISTICS = 1000

# plpgsql over the characters: faster than the SQL forms with generate_series and substr (which are quadratic
# in a multi-byte text).
# STRICT: NULL gives NULL, as a LIKE on NULL does; a text of 0 or 1 characters has no pieces.
# COST 250 (the default for a function is 100): about 6 µs a call. At 100 the planner chose, for a rare word at
# 10 million orders, to scan the primary key and compute the pieces of every order (9 s) over the index (1 ms).
BIGRAMS_FUNCTION = """
CREATE FUNCTION hotline_bigrams(value text) RETURNS bigint[]
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE COST 250 AS $$
DECLARE
    pieces bigint[] := '{}';
    previous bigint;
    code bigint;
    character text;
BEGIN
    FOREACH character IN ARRAY string_to_array(value, NULL) LOOP
        code := ascii(character);  -- the code point: at most 21 bits
        IF previous IS NOT NULL THEN
            pieces := pieces || ((previous << 21) | code);
        END IF;
        previous := code;
    END LOOP;
    RETURN pieces;
END
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(BIGRAMS_FUNCTION)
    for column in BIGRAM_COLUMNS:
        op.execute(f"CREATE INDEX ix_work_orders_{column}_bigrams ON work_orders USING gin (hotline_bigrams({column}))")
        # ANALYZE keeps the frequencies of the most common pieces; a piece not among them is estimated from the
        # rarest that is. The default (100) keeps too few: a rare word was estimated at 15,000 orders, not 800.
        op.execute(f"ALTER INDEX ix_work_orders_{column}_bigrams ALTER COLUMN 1 SET STATISTICS {PIECE_STATISTICS}")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for column in BIGRAM_COLUMNS:
        op.execute(f"DROP INDEX ix_work_orders_{column}_bigrams")
    op.execute("DROP FUNCTION hotline_bigrams(text)")
