// Package store keeps udpchat's history and outbox in a SQLite database in
// the data dir, so that nothing acknowledged is ever lost across crashes.
//
// It knows nothing of sockets, transport or UIs: it stores chat messages by
// value, keyed by the peer they were exchanged with (its address, and since
// schema 5 its person, a public key) and the 16-byte ID their sender chose,
// the contacts: the people, by key, with their names and endpoints, and
// since schema 6 what the rooms core keeps (rooms.go), by value.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

const (
	// DBName and LockName are the files Open keeps in the data dir.
	DBName   = "udpchat.db"
	LockName = "udpchat.lock"

	// applicationID is PRAGMA application_id of every udpchat database
	// ("udpc"); migration 1 sets it.
	applicationID = 0x75647063

	// busyTimeout is how long a statement waits for a lock held by another
	// connection (only possible from outside udpchat, e.g. the sqlite3 shell
	// reading the file) before failing with SQLITE_BUSY.
	busyTimeout = 5 * time.Second
)

// Synchronous settings of SQLite (PRAGMA synchronous) in WAL mode.
//
// NORMAL syncs the WAL only at checkpoints, so a commit has reached the
// operating system, not the disk, when it returns: it survives the death of
// the process, kill -9 included, but an operating system crash or a power
// loss may roll back the last transactions (the database stays consistent).
// FULL also syncs the WAL at every commit, so a commit survives those too;
// it still does not survive a disk that acknowledges writes it has only
// cached, or the loss of the disk.
const (
	syncNormal = "NORMAL"
	syncFull   = "FULL"

	// defaultSync is FULL because an acknowledgement tells the sender
	// "this is on the other disk" and it then forgets the message: a
	// receiver that lost a message it acknowledged to a power cut would
	// lose it for good. Measured on a virtio disk, FULL costs about
	// 0.17 ms of fsync per commit (AddIncoming 0.11 → 0.27 ms), which
	// still stores thousands of messages a second; see BENCHMARKS.md.
	defaultSync = syncFull
)

var (
	// ErrLocked is returned by Open when another process (or another MessageDB in
	// this one) has the data dir open.
	ErrLocked = errors.New("store: data dir is in use by another udpchat")
	// ErrBusy is returned when another program (the sqlite3 shell, say)
	// holds a lock on udpchat.db for longer than the busy timeout.
	ErrBusy = errors.New("store: database locked by another program")
	// ErrCorrupt is returned when udpchat.db is not a SQLite database, is
	// another program's, or is damaged.
	ErrCorrupt = errors.New("store: not a udpchat database or damaged")
	// ErrNewerSchema is returned by Open for a database written by a newer
	// udpchat: it is never downgraded.
	ErrNewerSchema = errors.New("store: database written by a newer udpchat")
	// ErrOlderSchema is returned by OpenReadOnly for a database that a
	// newer udpchat has not migrated yet, which it cannot read.
	ErrOlderSchema = errors.New("store: database not yet upgraded by this udpchat")
	// ErrNoHistory is returned by OpenReadOnly when the data dir has no
	// database yet.
	ErrNoHistory = errors.New("store: no history yet")
	// ErrNotFound is returned for a message the store does not have.
	ErrNotFound = errors.New("store: no such message")
	// ErrNotPending is returned by Cancel for a message that was already
	// delivered or cancelled.
	ErrNotPending = errors.New("store: message is not pending")
	// ErrDuplicate is returned by AddOutgoing for an ID already used for
	// that peer.
	ErrDuplicate = errors.New("store: message ID already stored")
	// ErrNoContact is returned for a person (key or name) the contacts do
	// not have.
	ErrNoContact = errors.New("store: no such contact")
)

// userError is an error whose text a user can act on. It matches both its
// sentinel (ErrCorrupt, fs.ErrPermission, …) and the error that caused it.
type userError struct {
	msg   string
	kind  error
	cause error
}

func (e *userError) Error() string { return e.msg }
func (e *userError) Unwrap() []error {
	if e.cause == nil {
		return []error{e.kind}
	}
	return []error{e.kind, e.cause}
}

// MessageDB is udpchat's database of messages: the history and the outbox.
// Its methods may be called from any goroutine.
type MessageDB struct {
	// db has a single connection: SQLite allows one writer at a time
	// anyway, and with one connection our own statements never meet
	// SQLITE_BUSY and never wait on each other's locks; they queue in
	// database/sql instead. A chat writes a few messages a second, and
	// reads of a 100,000-message history take a few milliseconds (25 ms for
	// the slowest, a substring scan), so a second connection for readers
	// would buy nothing a user could notice.
	db   *sql.DB
	dir  string
	path string
	lock *dirLock // nil when read-only
	// notices are what Open changed about the files' modes (see Notices).
	notices []string
	// now is the clock; tests replace it.
	now func() time.Time

	closeOnce sync.Once
	closeErr  error
}

// options are Open's knobs that only tests and benchmarks turn.
type options struct {
	// schema is the version to migrate to; 0 means the newest.
	schema int
	// sync is PRAGMA synchronous; "" means defaultSync.
	sync string
	// busyTimeout is PRAGMA busy_timeout; 0 means busyTimeout.
	busyTimeout time.Duration
}

// Open opens (creating it and the directory if needed) DIR/udpchat.db and
// migrates it to the newest schema.
//
// It first takes an exclusive lock on DIR/udpchat.lock, held until Close or
// the death of the process (kill -9 included, as the kernel releases it), so
// that a second udpchat on the same data dir gets ErrLocked instead of
// sharing the outbox: two senders of one pending message would each resend
// it, and each would think the other's acknowledgements were not for it.
//
// The database and its -wal and -shm files are readable and writable by
// this user only (mode 0600), whatever the umask and the dir's mode; an
// existing database that others could read is made so (see Notices).
//
// Errors a user can act on name the file and match ErrLocked, ErrBusy,
// ErrCorrupt, ErrNewerSchema or fs.ErrPermission.
func Open(ctx context.Context, dir string) (*MessageDB, error) {
	return open(ctx, dir, options{})
}

func open(ctx context.Context, dir string, o options) (_ *MessageDB, err error) {
	if dir == "" {
		return nil, errors.New("store: no data dir given")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("store: data dir %s: %w", dir, err)
	}
	dir = abs
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, dirError(dir, err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	s := &MessageDB{dir: dir, path: filepath.Join(dir, DBName), lock: lock, now: time.Now}
	defer func() {
		if err != nil {
			if s.db != nil {
				s.db.Close()
			}
			lock.release()
		}
	}()

	// Before SQLite creates the database, or its -wal and -shm, with
	// modes that let others read the history.
	if s.notices, err = makePrivate(s.path); err != nil {
		return nil, dirError(dir, err)
	}
	if o.sync == "" {
		o.sync = defaultSync
	}
	if o.busyTimeout == 0 {
		o.busyTimeout = busyTimeout
	}
	s.db, err = sql.Open("sqlite", dsn(s.path, o.sync, o.busyTimeout))
	if err != nil {
		return nil, s.wrap("open", err)
	}
	// The first connection is opened here, and the pragmas in the DSN run
	// on it: a file that is not a database fails now.
	if err := s.connect(ctx); err != nil {
		return nil, err
	}
	if err := s.migrate(ctx, o.schema); err != nil {
		return nil, err
	}
	return s, nil
}

// OpenReadOnly opens DIR/udpchat.db for reading only, beside a udpchat
// that may be running on DIR: it takes no lock, runs no migrations and
// never writes. In WAL mode SQLite lets it read a consistent snapshot while
// the other process writes.
//
// A database of another schema version than this binary's is refused
// (ErrNewerSchema, ErrOlderSchema) rather than misread; a data dir without
// one is ErrNoHistory. Errors a user can act on name the file.
func OpenReadOnly(ctx context.Context, dir string) (_ *MessageDB, err error) {
	if dir == "" {
		return nil, errors.New("store: no data dir given")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("store: data dir %s: %w", dir, err)
	}
	s := &MessageDB{dir: abs, path: filepath.Join(abs, DBName), now: time.Now}
	if _, err := os.Stat(s.path); errors.Is(err, fs.ErrNotExist) {
		return nil, &userError{
			msg:  fmt.Sprintf("no history in %s yet: %s does not exist (udpchat makes it when it first chats with this --data-dir)", abs, DBName),
			kind: ErrNoHistory,
		}
	}
	s.db, err = sql.Open("sqlite", readOnlyDSN(s.path))
	if err != nil {
		return nil, s.wrap("open", err)
	}
	defer func() {
		if err != nil {
			s.db.Close()
		}
	}()
	if err := s.connect(ctx); err != nil {
		return nil, err
	}
	if err := s.checkSchema(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// checkSchema refuses, for OpenReadOnly, a database that is not exactly
// this binary's schema.
func (s *MessageDB) checkSchema(ctx context.Context) error {
	var appID, version, tables int
	err := s.db.QueryRowContext(ctx,
		"SELECT (SELECT application_id FROM pragma_application_id), (SELECT user_version FROM pragma_user_version), (SELECT count(*) FROM sqlite_schema)").
		Scan(&appID, &version, &tables)
	if err != nil {
		return s.wrap("open", err)
	}
	switch {
	case appID == 0 && version == 0 && tables == 0:
		// Made and never migrated: a first start that died at once.
		return &userError{
			msg:  fmt.Sprintf("no history in %s yet: %s is empty", s.dir, s.path),
			kind: ErrNoHistory,
		}
	case appID != applicationID:
		return corruptError(s.path, fmt.Errorf("application_id %#x, user_version %d, %d schema objects: another program's SQLite file", appID, version, tables))
	case version > schemaVersion:
		return &userError{
			msg: fmt.Sprintf("%s was written by a newer udpchat (schema %d, this one knows %d): upgrade udpchat, or use another --data-dir",
				s.path, version, schemaVersion),
			kind: ErrNewerSchema,
		}
	case version < schemaVersion:
		return &userError{
			msg: fmt.Sprintf("%s has schema %d, which this udpchat reads only once upgraded to %d: run this udpchat (not history) once with this --data-dir, which upgrades it",
				s.path, version, schemaVersion),
			kind: ErrOlderSchema,
		}
	}
	return nil
}

// readOnlyDSN is dsn for OpenReadOnly: mode=ro, so the connection can
// never write, and no journal_mode or synchronous pragma, which would.
func readOnlyDSN(path string) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	q.Add("_pragma", "query_only(1)")
	q.Set("mode", "ro")
	return fileURI(path, q)
}

// connect makes s.db hold one connection, open for as long as the store
// is, and opens it. One, because SQLite writes one at a time and the store
// orders its own work; kept open, because reopening it would re-run the
// DSN's pragmas, and closing the last one checkpoints the WAL.
func (s *MessageDB) connect(ctx context.Context) error {
	s.db.SetMaxOpenConns(1)
	s.db.SetMaxIdleConns(1)
	s.db.SetConnMaxIdleTime(0)
	s.db.SetConnMaxLifetime(0)
	if err := s.db.PingContext(ctx); err != nil {
		return s.wrap("open", err)
	}
	return nil
}

// dsn is the driver's name for the database at path: a file: URI, so that
// any character in the path is escaped, and pragmas every connection runs
// as it opens.
func dsn(path, sync string, busy time.Duration) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busy.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous("+sync+")")
	// BEGIN IMMEDIATE: a transaction takes the write lock when it starts,
	// so one that reads and then writes cannot fail halfway with BUSY.
	q.Set("_txlock", "immediate")
	return fileURI(path, q)
}

// fileURI is the file: URI of path with query q, so that any character in
// the path is escaped.
func fileURI(path string, q url.Values) string {
	p := filepath.ToSlash(path)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // a Windows drive: file:///C:/…
	}
	u := url.URL{Scheme: "file", Path: p, RawQuery: q.Encode()}
	return u.String()
}

// Path is the database file, for messages to the user.
func (s *MessageDB) Path() string { return s.path }

// Notices are what Open did about the modes of the database files, one
// sentence each, for the log: an older udpchat left them readable by other
// users, and Open took that away, or could not (a file of another user's):
// neither stops the store from working, so they are not errors.
func (s *MessageDB) Notices() []string { return s.notices }

// Close closes the database and then releases the data dir's lock. It is
// safe to call more than once; later calls return what the first did.
func (s *MessageDB) Close() error {
	s.closeOnce.Do(func() {
		// Closing the last connection checkpoints the WAL into
		// udpchat.db; the lock is held until that is done.
		err := s.db.Close()
		if err != nil {
			err = s.wrap("close", err)
		}
		if s.lock != nil {
			err = errors.Join(err, s.lock.release())
		}
		s.closeErr = err
	})
	return s.closeErr
}

// tx runs fn in a transaction, committing if it returns nil and rolling
// back otherwise.
func (s *MessageDB) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// wrap maps the driver's errors to the ones a user can act on, naming the
// file, and adds op to the others.
func (s *MessageDB) wrap(op string, err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
			return corruptError(s.path, err)
		case sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM:
			return &userError{
				msg: fmt.Sprintf("cannot write %s (%v): check the owner and mode of it and of %s, or use another --data-dir",
					s.path, err, s.dir),
				kind:  fs.ErrPermission,
				cause: err,
			}
		case sqlite3.SQLITE_CANTOPEN:
			return fmt.Errorf("cannot open %s (%w): check that it is a file udpchat may write, and the owner and mode of %s, or use another --data-dir",
				s.path, err, s.dir)
		case sqlite3.SQLITE_BUSY:
			// Not another udpchat, which the data dir's lock keeps out, and
			// not one of ours, as the store has one connection: a program
			// that opened the file itself and holds it past busyTimeout.
			return &userError{
				msg:   fmt.Sprintf("another program has %s locked; close it (or use another --data-dir)", s.path),
				kind:  ErrBusy,
				cause: err,
			}
		case sqlite3.SQLITE_FULL:
			return fmt.Errorf("store: %s: the disk holding %s is full: %w", op, s.path, err)
		}
	}
	return fmt.Errorf("store: %s %s: %w", op, s.path, err)
}

// corruptError says that path is damaged, or not ours, and what to do:
// see what is wrong with sqlite3's integrity_check, then restore the file
// from a backup or start a new history.
func corruptError(path string, cause error) error {
	return &userError{
		msg: fmt.Sprintf("%s is not a udpchat database or is damaged (%v): to see what is wrong, run "+
			"sqlite3 %s 'PRAGMA integrity_check'; restore it from a backup, or move it aside "+
			"(your identity and known peers are not in it) and udpchat will start a new history", path, cause, shellQuote(path)),
		kind:  ErrCorrupt,
		cause: cause,
	}
}

// shellQuote is path as one word of a POSIX shell command, quoted only if
// it needs to be, so that the command corruptError suggests can be pasted.
func shellQuote(path string) string {
	if path != "" && strings.Trim(path, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+:@,") == "" {
		return path
	}
	return "'" + strings.ReplaceAll(path, "'", `'\''`) + "'"
}

// dirError explains a data dir that cannot be created or written.
func dirError(dir string, err error) error {
	if errors.Is(err, fs.ErrPermission) {
		return &userError{
			msg:   fmt.Sprintf("cannot use data dir %s (%v): check its owner and mode, or use another --data-dir", dir, err),
			kind:  fs.ErrPermission,
			cause: err,
		}
	}
	return fmt.Errorf("store: cannot use data dir %s: %w", dir, err)
}
