package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/user"
	"path/filepath"
	"time"

	"github.com/udpchat/udpchat/internal/chat"
	"github.com/udpchat/udpchat/internal/plain"
	"github.com/udpchat/udpchat/internal/transport"
	"github.com/udpchat/udpchat/internal/udp"
)

// resolveTimeout bounds the lookup of all --peer names at startup.
const resolveTimeout = 10 * time.Second

// startNode checks o, opens everything it names and returns a node
// connected to every --peer, and a function that closes the log once the
// node is closed. Mistakes in o come back as usageErrors.
func startNode(ctx context.Context, o *options) (*chat.Node, func(), error) {
	name, err := o.displayName()
	if err != nil {
		return nil, nil, err
	}
	peers, err := resolvePeers(ctx, o.peers)
	if err != nil {
		return nil, nil, err
	}
	if err := makeDataDir(o.dataDir); err != nil {
		return nil, nil, err
	}
	log, closeLog, err := openLog(o.logFile)
	if err != nil {
		return nil, nil, err
	}
	conn, err := udp.Listen(o.listen)
	if err != nil {
		closeLog()
		return nil, nil, usageError{err}
	}
	node, err := chat.New(chat.Config{Name: name, Plain: o.plain, Logger: log}, func(h chat.Handler) (chat.Link, error) {
		if o.plain {
			return plain.New(conn, h), nil
		}
		ep, err := transport.New(conn, h, transport.Config{Logger: log})
		if err != nil {
			return nil, err // not ep: a nil *Endpoint in a Link is not a nil Link
		}
		return ep, nil
	})
	if err != nil {
		conn.Close()
		closeLog()
		return nil, nil, err
	}
	for _, p := range peers {
		if err := node.Connect(p); err != nil {
			node.Leave(ctx)
			closeLog()
			return nil, nil, err
		}
	}
	return node, closeLog, nil
}

// displayName is --name, checked, or the login name made valid.
func (o *options) displayName() (string, error) {
	if o.nameSet {
		if err := chat.ValidateName(o.name); err != nil {
			return "", usageError{err}
		}
		return o.name, nil
	}
	if u, err := user.Current(); err == nil {
		if name := chat.SanitizeName(u.Username); name != "" {
			return name, nil
		}
	}
	return "anon", nil
}

func resolvePeers(ctx context.Context, addrs []string) ([]netip.AddrPort, error) {
	ctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	defer cancel()
	peers := make([]netip.AddrPort, 0, len(addrs))
	for _, a := range addrs {
		p, err := udp.ResolvePeer(ctx, a)
		if err != nil {
			return nil, usageError{err}
		}
		peers = append(peers, p)
	}
	return peers, nil
}

// makeDataDir creates dir, or the default one if dir is "", readable by
// this user only: it will hold the identity key.
func makeDataDir(dir string) error {
	if dir == "" {
		config, err := os.UserConfigDir()
		if err != nil {
			return fmt.Errorf("no place for udpchat's data: %v; choose a directory with --data-dir", err)
		}
		dir = filepath.Join(config, "udpchat")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("cannot create data directory %s: %v; fix its permissions or choose another with --data-dir", dir, err)
	}
	return nil
}

// openLog returns a debug logger writing to file, or discarding if file is
// "", and a function that closes the file.
func openLog(file string) (*slog.Logger, func(), error) {
	if file == "" {
		return slog.New(slog.DiscardHandler), func() {}, nil
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot open the log: %v; choose another file with --log", err)
	}
	log := slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return log, func() { f.Close() }, nil
}
