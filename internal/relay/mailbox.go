package relay

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"time"

	_ "modernc.org/sqlite" // the driver the main store uses: pure Go, no cgo

	"github.com/udpchat/udpchat/internal/keys"
	"github.com/udpchat/udpchat/internal/wire"
)

// MailboxDBName is the relay's mailbox database in its data dir.
const MailboxDBName = "relay.db"

// MailStore holds sealed blobs for recipients who are offline: Mailboxes
// (SQLite) for a relay on its own, a shared store (internal/relaycluster's,
// in JetStream) for relays in a cluster, so that any of them delivers what
// another took. The relay calls it from one goroutine of its own.
type MailStore interface {
	// Put stores blob for to and returns its id and wire.MailStored, or
	// wire.MailBoxFull when to's mailbox is at its bound; it returns only
	// once the blob is as safe as the store makes it. A blob it holds for
	// to already (a client's resent put) is not stored again: Put returns
	// the held one's id, stored.
	Put(ctx context.Context, to keys.PublicKey, blob []byte, now time.Time) (id uint64, status uint8, err error)
	// Fetch returns up to limit of to's blobs, oldest first, that have not
	// expired. They stay until acknowledged.
	Fetch(ctx context.Context, to keys.PublicKey, now time.Time, limit int) ([]Mail, error)
	// Ack deletes blob id if it is to's, and says whether it did.
	Ack(ctx context.Context, to keys.PublicKey, id uint64) (bool, error)
	// Expire deletes the blobs past their age, if the store does not do
	// that itself, and returns how many went.
	Expire(ctx context.Context, now time.Time) (int64, error)
	// Len is how many blobs the store holds, for every recipient.
	Len(ctx context.Context) (int, error)
}

var _ MailStore = (*Mailboxes)(nil)

// Mailboxes holds sealed blobs for recipients who are offline, in SQLite,
// so that a restart loses none: a put is answered "stored" only once its
// transaction has committed (synchronous FULL). The relay cannot open a
// blob (SealMail seals it for the recipient alone) and does not record who
// sent it.
type Mailboxes struct {
	db     *sql.DB
	maxPer int
	maxAge time.Duration
}

// Mail is one blob held for a recipient.
type Mail struct {
	ID       uint64
	StoredAt time.Time
	Blob     []byte
}

const mailboxSchema = `CREATE TABLE IF NOT EXISTS mail (
	id        INTEGER PRIMARY KEY AUTOINCREMENT,
	recipient BLOB    NOT NULL,
	stored_at INTEGER NOT NULL,
	blob      BLOB    NOT NULL
);
CREATE INDEX IF NOT EXISTS mail_recipient ON mail (recipient, id);
CREATE INDEX IF NOT EXISTS mail_stored_at ON mail (stored_at);`

// OpenMailboxes opens (creating) the mailbox database at path, made
// readable by its owner only: which keys get mail, and when, is metadata.
// Each recipient holds at most maxPer blobs, none older than maxAge.
func OpenMailboxes(path string, maxPer int, maxAge time.Duration) (*Mailboxes, error) {
	if maxPer <= 0 || maxAge <= 0 {
		return nil, fmt.Errorf("relay: mailbox bounds must be positive (%d blobs, %v)", maxPer, maxAge)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("relay: mailboxes: %w", err)
	}
	f.Close()
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(5000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", (&url.URL{Scheme: "file", OmitHost: true, Path: path, RawQuery: q.Encode()}).String())
	if err != nil {
		return nil, fmt.Errorf("relay: mailboxes %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(mailboxSchema); err != nil {
		db.Close()
		return nil, fmt.Errorf("relay: mailboxes %s: %w", path, err)
	}
	return &Mailboxes{db: db, maxPer: maxPer, maxAge: maxAge}, nil
}

// Close closes the database.
func (m *Mailboxes) Close() error { return m.db.Close() }

// Put stores blob for to and returns its id and wire.MailStored, or
// wire.MailBoxFull when to's mailbox is at its bound (the sender hears of it
// and may try again later; nothing already held is pushed out).
//
// A blob to's mailbox holds already is a put the client resent because its
// answer was slow or lost (no two sealed blobs are alike: each has an
// ephemeral key of its own): it is answered with the held blob's id, not
// stored again, so that a resend neither takes a second place in the
// bounded mailbox nor reaches the recipient twice.
func (m *Mailboxes) Put(ctx context.Context, to keys.PublicKey, blob []byte, now time.Time) (uint64, uint8, error) {
	tx, err := m.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, wire.MailRefused, err
	}
	defer tx.Rollback()
	var held uint64
	switch err := tx.QueryRowContext(ctx, `SELECT id FROM mail WHERE recipient = ? AND stored_at > ? AND blob = ? LIMIT 1`,
		to[:], m.oldest(now), blob).Scan(&held); {
	case err == nil:
		return held, wire.MailStored, nil
	case !errors.Is(err, sql.ErrNoRows):
		return 0, wire.MailRefused, err
	}
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM mail WHERE recipient = ? AND stored_at > ?`,
		to[:], m.oldest(now)).Scan(&n); err != nil {
		return 0, wire.MailRefused, err
	}
	if n >= m.maxPer {
		return 0, wire.MailBoxFull, nil
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO mail (recipient, stored_at, blob) VALUES (?, ?, ?)`, to[:], now.Unix(), blob)
	if err != nil {
		return 0, wire.MailRefused, err
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, wire.MailRefused, err
	}
	if err := tx.Commit(); err != nil {
		return 0, wire.MailRefused, err
	}
	return uint64(id), wire.MailStored, nil
}

// Fetch returns up to limit of to's blobs, oldest first, that are not past
// maxAge. They stay until acknowledged (Ack): a fetch that is lost is
// answered again by the next.
func (m *Mailboxes) Fetch(ctx context.Context, to keys.PublicKey, now time.Time, limit int) ([]Mail, error) {
	rows, err := m.db.QueryContext(ctx, `SELECT id, stored_at, blob FROM mail WHERE recipient = ? AND stored_at > ? ORDER BY id LIMIT ?`,
		to[:], m.oldest(now), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Mail
	for rows.Next() {
		var ml Mail
		var at int64
		if err := rows.Scan(&ml.ID, &at, &ml.Blob); err != nil {
			return nil, err
		}
		ml.StoredAt = time.Unix(at, 0)
		out = append(out, ml)
	}
	return out, rows.Err()
}

// Ack deletes blob id, if it is to's: a recipient acknowledges only its own.
func (m *Mailboxes) Ack(ctx context.Context, to keys.PublicKey, id uint64) (bool, error) {
	res, err := m.db.ExecContext(ctx, `DELETE FROM mail WHERE id = ? AND recipient = ?`, id, to[:])
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// Expire deletes the blobs past maxAge and returns how many went.
func (m *Mailboxes) Expire(ctx context.Context, now time.Time) (int64, error) {
	res, err := m.db.ExecContext(ctx, `DELETE FROM mail WHERE stored_at <= ?`, m.oldest(now))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// Len is how many blobs the relay holds, for every recipient.
func (m *Mailboxes) Len(ctx context.Context) (int, error) {
	var n int
	err := m.db.QueryRowContext(ctx, `SELECT count(*) FROM mail`).Scan(&n)
	return n, err
}

func (m *Mailboxes) oldest(now time.Time) int64 { return now.Add(-m.maxAge).Unix() }
