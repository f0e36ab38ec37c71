package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	_ "modernc.org/sqlite" // the driver udpchat's store uses
)

// viaCommits is sqlite-commit's pipeSystem, the disk's floor under
// udpchat-cli: each line is inserted into a table in a commit of its own,
// in WAL mode with synchronous=FULL as udpchat's store does (so each commit
// syncs the WAL), and handed to onLine once committed. The database is in
// a temporary directory, on the disk udpchat-cli's data dirs are on.
func viaCommits(ctx context.Context, _ *system, _ uint64, onLine func([]byte), body func(pipe) (sample, error)) (sample, error) {
	dir, err := os.MkdirTemp("", "udpchat-bench-commit-")
	if err != nil {
		return sample{}, err
	}
	defer os.RemoveAll(dir)
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	dsn := (&url.URL{Scheme: "file", Path: filepath.ToSlash(filepath.Join(dir, "commits.db")), RawQuery: q.Encode()}).String()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return sample{}, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1) // one writer, as the store has
	if _, err := db.ExecContext(ctx, "CREATE TABLE lines (id INTEGER PRIMARY KEY, text TEXT NOT NULL)"); err != nil {
		return sample{}, fmt.Errorf("set up: %w", err)
	}
	insert, err := db.PrepareContext(ctx, "INSERT INTO lines (text) VALUES (?)")
	if err != nil {
		return sample{}, fmt.Errorf("set up: %w", err)
	}
	defer insert.Close()
	p := &commitPipe{ctx: ctx, insert: insert, onLine: onLine}
	if _, err := insert.ExecContext(ctx, warmupLine); err != nil {
		return sample{}, fmt.Errorf("warm-up: %w", err)
	}
	return measure(func() (sample, error) { return body(p) }, nil)
}

// commitPipe commits each line, then hands it to onLine: writer and
// receiver are one goroutine.
type commitPipe struct {
	ctx    context.Context
	insert *sql.Stmt
	onLine func([]byte)
}

func (p *commitPipe) write(line []byte) error {
	if _, err := p.insert.ExecContext(p.ctx, string(line)); err != nil {
		return err
	}
	p.onLine(line)
	return nil
}
