package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
)

// migrationFiles are the schema's migrations, one file each, named
// NNNN_what.sql: migration N takes the database from schema N-1 to N. A
// released migration is never edited; a change is a new file.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

// migrations are the embedded migrations in order; migrations[i] is
// version i+1.
var migrations = mustLoadMigrations(migrationFiles)

// schemaVersion is the newest schema this binary knows.
var schemaVersion = len(migrations)

func mustLoadMigrations(fsys fs.FS) []migration {
	ms, err := loadMigrations(fsys)
	if err != nil {
		panic(err)
	}
	return ms
}

func loadMigrations(fsys fs.FS) ([]migration, error) {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	ms := make([]migration, 0, len(names))
	for _, name := range names { // Glob sorts them
		base := path.Base(name)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("store: migration %s: name is not NNNN_what.sql", name)
		}
		if v != len(ms)+1 {
			return nil, fmt.Errorf("store: migration %s: want version %d", name, len(ms)+1)
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: base, sql: string(b)})
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("store: no migrations")
	}
	return ms, nil
}

// migrate brings the database to schema version to (0: the newest) in one
// transaction: a failure or a crash part way leaves it as it was.
//
// The version lives in PRAGMA user_version. A database newer than this
// binary is refused with ErrNewerSchema rather than used: its rows may
// mean things this binary does not know, and writing to it could break
// the newer udpchat that made it.
func (s *MessageDB) migrate(ctx context.Context, to int) error {
	if to == 0 {
		to = schemaVersion
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var appID, version int
		if err := tx.QueryRowContext(ctx, "PRAGMA application_id").Scan(&appID); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
			return err
		}
		if appID != applicationID {
			// A new file has neither an application_id nor tables; a
			// SQLite file of another program has one or the other.
			var tables int
			if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&tables); err != nil {
				return err
			}
			if appID != 0 || version != 0 || tables != 0 {
				return corruptError(s.path, fmt.Errorf("application_id %#x, user_version %d, %d schema objects: another program's SQLite file", appID, version, tables))
			}
		}
		if version > schemaVersion {
			return &userError{
				msg: fmt.Sprintf("%s was written by a newer udpchat (schema %d, this one knows %d): upgrade udpchat, or use another --data-dir",
					s.path, version, schemaVersion),
				kind: ErrNewerSchema,
			}
		}
		for _, m := range migrations[min(version, to):to] {
			if _, err := tx.ExecContext(ctx, m.sql); err != nil {
				return fmt.Errorf("migration %s: %w", m.name, err)
			}
		}
		if version < to {
			// PRAGMA takes no parameters; to is an int.
			if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", to)); err != nil {
				return err
			}
		}
		return nil
	})
	if ue := (*userError)(nil); err == nil || errors.As(err, &ue) {
		return err
	}
	return s.wrap("migrate", err)
}
