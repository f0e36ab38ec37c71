package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/udpchat/udpchat/internal/chat"
	"github.com/udpchat/udpchat/internal/link"
	"github.com/udpchat/udpchat/internal/plain"
	"github.com/udpchat/udpchat/internal/relay/mailclient"
	"github.com/udpchat/udpchat/internal/relay/relaypath"
	"github.com/udpchat/udpchat/internal/secure"
	"github.com/udpchat/udpchat/internal/store"
	"github.com/udpchat/udpchat/internal/transport"
	"github.com/udpchat/udpchat/internal/udp"
)

// resolveTimeout bounds the lookup of all --peer names at startup.
const resolveTimeout = 10 * time.Second

// startNode checks o, opens everything it names and returns a node
// connected to every --peer, a finder for the names /connect is given, and
// a function that closes discovery, the store and the log once the node is
// closed. Mistakes in o come back as usageErrors.
//
// Unless o.noStore, the node keeps its history and outbox in the data dir's
// store, which it holds (locked) until the returned function closes it: a
// second udpchat on the same data dir fails here, with an error naming the
// dir. Messages an earlier run left undelivered go out again at once.
// stderr gets the warning of makeDataDir, and says when a --peer name is
// looked for on the LAN.
func startNode(ctx context.Context, o *options, stderr io.Writer) (*chat.Node, *finder, func(), error) {
	if o.nameSet {
		if err := chat.ValidateName(o.name); err != nil {
			return nil, nil, nil, usageError{err} // before anything is made
		}
	}
	peers, err := resolvePeers(ctx, o.listen, o.peers)
	if err != nil {
		return nil, nil, nil, err
	}
	dataDir, err := makeDataDir(o.dataDir, stderr)
	if err != nil {
		return nil, nil, nil, err
	}
	name, err := o.displayName(dataDir, !o.noStore)
	if err != nil {
		return nil, nil, nil, err
	}
	// st is the node's store; ro, send's, is read for contacts only.
	var st, ro *store.MessageDB
	if !o.noStore {
		// Before the socket: a data dir in use by another udpchat (which
		// is likely on the same port, too) is the error to report.
		if st, err = store.Open(ctx, dataDir); err != nil {
			return nil, nil, nil, err
		}
	}
	closeStore := func() {
		for _, s := range []*store.MessageDB{st, ro} {
			if s != nil {
				s.Close()
			}
		}
	}
	log, closeLog, err := openLog(o.logFile)
	if err != nil {
		closeStore()
		return nil, nil, nil, err
	}
	if st != nil {
		for _, n := range st.Notices() {
			log.Info("store: " + n)
		}
	}
	f := new(finder)
	cleanup := func() {
		f.lan.close()
		closeStore()
		closeLog()
	}
	conn, err := udp.Listen(o.listen)
	if err != nil {
		cleanup()
		return nil, nil, nil, usageError{err}
	}
	// Again with the socket's address: on a system without IPv6, [::]
	// became 0.0.0.0.
	for _, p := range peers {
		if !p.addr.IsValid() {
			continue // a name: checked once found
		}
		if err := checkFamily(p.text, p.addr, conn.LocalAddr()); err != nil {
			conn.Close()
			cleanup()
			return nil, nil, nil, usageError{err}
		}
	}
	cfg := chat.Config{Name: name, Plain: o.plain, PlainMax: o.plainMax, Logger: log, SendOnly: o.sendOnly, Files: o.files}
	if !o.plain {
		cfg.KnownName = f.knownName
	}
	if !o.noStore {
		cfg.SaveName = func(name string) error {
			f.lan.setName(name)
			return saveName(dataDir, name)
		}
	}
	if st != nil {
		cfg.Store = st
		f.contacts = st
	} else if !o.plain {
		// send: the chat may hold the store, but the contacts --peer
		// names can be read beside it. Without them (no history yet,
		// or one this udpchat cannot read), the known peers still are.
		if ro, err = store.OpenReadOnly(ctx, dataDir); err == nil {
			f.contacts = ro
		}
	}
	var enc *encryption
	var relayCtx context.Context // the relay path's, while it runs
	var relayPath *relaypath.Path
	var mailbox *mailclient.Mailbox
	tc := transport.Config{MaxPacket: secure.MaxPacket, Logger: log}
	if !o.plain {
		rp, mb, under, err := openRelayPath(ctx, o.relay, o.sendOnly, conn, dataDir, log)
		if err != nil {
			conn.Close()
			cleanup()
			return nil, nil, nil, err
		}
		if enc, err = openEncryption(under, dataDir, log, rp); err != nil {
			conn.Close()
			cleanup()
			return nil, nil, nil, err
		}
		if rp != nil {
			var stopRelay context.CancelFunc
			relayCtx, stopRelay = context.WithCancel(context.WithoutCancel(ctx))
			if err := rp.Start(relayCtx, enc.conn); err != nil {
				stopRelay()
				conn.Close()
				cleanup()
				return nil, nil, nil, err
			}
			relayPath, mailbox = rp, mb
			if !relayOnDemand(o.relay, o.sendOnly) {
				f.relay, tc.MaxPacket = rp, relaypath.MaxPacket
				// Paths through NATs are checked (deadPath) and kept
				// open by keepalives; peers still count as unreachable
				// after the usual time.
				tc.KeepaliveInterval, tc.IdleTimeout = relaypath.Keepalive, 15*time.Second
				cfg.Paths = rp.Describe
			}
			closeRest := cleanup
			cleanup = func() { stopRelay(); closeRest() }
		}
		cfg.Security = enc.security()
		cfg.PeerCheck = enc
		cfg.KnownKeys = enc.knownKeys()
		f.known = enc.known
	}
	node, err := chat.New(cfg, func(h link.Handler) (link.Link, error) {
		if o.plain {
			return plain.New(conn, h), nil
		}
		ep, err := transport.New(enc.conn, h, tc)
		if err != nil {
			return nil, err // not ep: a nil *Endpoint in a Link is not a nil Link
		}
		return ep, nil
	})
	if err != nil {
		conn.Close()
		cleanup()
		return nil, nil, nil, err
	}
	f.node = node
	if enc != nil {
		enc.node.Store(node)
	}
	if mailbox != nil {
		go mailbox.Run(relayCtx, relayPath, node, enc.key)
	}
	if relayPath != nil && o.sendOnly {
		f.holdNow = func(ctx context.Context) error {
			return mailclient.HoldNow(ctx, relayPath, node, enc.key, log)
		}
	}
	fail := func(err error) (*chat.Node, *finder, func(), error) {
		node.Leave(ctx)
		cleanup()
		return nil, nil, nil, err
	}
	// Rooms need keys and a store: not in plain mode, nor for send.
	if enc != nil && st != nil {
		rooms, err := startRooms(node, enc, st, dataDir, log)
		if err != nil {
			return fail(err)
		}
		if relayPath != nil && !relayOnDemand(o.relay, o.sendOnly) {
			// Big rooms go through the relay's fan-out (RL9), subscribed
			// again at every registration.
			relayPath.CarryRooms(relaypath.RoomsHook{
				Registered: func() { rooms.SetFanout(relayPath) },
				Deliver:    rooms.FanoutDeliver,
			})
		}
		closeRest := cleanup
		cleanup = func() {
			rooms.Close()
			closeRest()
		}
	}
	// Only a chat on every address is where a beacon says it is: at the
	// address the beacon comes from.
	if o.discover && enc != nil && conn.LocalAddr().Addr().IsUnspecified() {
		if f.lan, err = startLAN(ctx, node, enc.key.Public(), name, conn.LocalAddr().Port(), log); err != nil {
			var ue usageError
			if errors.As(err, &ue) {
				return fail(err)
			}
			fmt.Fprintf(stderr, "udpchat: warning: no LAN discovery: %v\n", err)
		}
	}
	for _, p := range peers {
		addr := p.addr
		if !addr.IsValid() {
			if addr, err = f.findWaiting(ctx, p.text, stderr); err == nil {
				err = checkPeer(p.text, addr, conn.LocalAddr(), localNets())
			}
			if err != nil {
				return fail(usageError{err})
			}
		}
		if err := node.ConnectKept(addr); err != nil {
			return fail(err)
		}
	}
	return node, f, cleanup, nil
}

// peerArg is one --peer: as given, and its address, or none yet for a
// name (see finder).
type peerArg struct {
	text string
	addr netip.AddrPort
}

// resolvePeers resolves the --peer addresses, refusing those that are not
// one other udpchat: see checkPeer. listen is --listen. Names are checked
// and left for the finder.
func resolvePeers(ctx context.Context, listen string, args []string) ([]peerArg, error) {
	ctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	defer cancel()
	local := localNets()
	self, _ := listenAddr(listen)
	peers := make([]peerArg, 0, len(args))
	for _, a := range args {
		if isPeerName(a) {
			if err := checkPeerName(a); err != nil {
				return nil, err
			}
			peers = append(peers, peerArg{text: a})
			continue
		}
		p, err := udp.ResolvePeer(ctx, a)
		if err != nil {
			return nil, usageError{err}
		}
		if err := checkPeer(a, p, self, local); err != nil {
			return nil, usageError{err}
		}
		peers = append(peers, peerArg{a, p})
	}
	return peers, nil
}

// makeDataDir creates dir, or the default one if dir is "", readable by
// this user only: it will hold the identity key. It returns the dir.
//
// A dir that already exists is used with the mode it has, but if other
// users may enter it, one line on stderr says so (see warnOpenDataDir).
func makeDataDir(dir string, stderr io.Writer) (string, error) {
	dir, err := dataDirPath(dir)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("cannot create data directory %s: %v; fix its permissions or choose another with --data-dir", dir, err)
	}
	warnOpenDataDir(dir, stderr)
	return dir, nil
}

// warnOpenDataDir writes a warning to stderr if users other than its
// owner may enter dir.
//
// It warns rather than refusing, as identity refuses a key file others can
// read, because the files that matter are private whatever the dir's mode
// (identity.key and udpchat.db are 0600): others can list their names,
// sizes and times, which say when you chat, but not read them. Only if
// they may also write to the dir can they do worse: replace those files
// (your identity key with one they know, say). And it does not chmod the
// dir, as the store does udpchat.db, because --data-dir may name a dir that
// is not udpchat's alone (a home dir, a shared one), whose mode other
// programs or people rely on.
func warnOpenDataDir(dir string, stderr io.Writer) {
	if runtime.GOOS == "windows" {
		return // no such modes
	}
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm()&0o077 == 0 {
		return
	}
	what := "see the names, sizes and times of the files in it"
	if fi.Mode().Perm()&0o022 != 0 {
		what = "replace the files in it (your identity key among them)"
	}
	fmt.Fprintf(stderr, "udpchat: warning: data dir %s has mode %04o, so other users can %s; run chmod 700 %s\n",
		dir, fi.Mode().Perm(), what, dir)
}

// dataDirPath is dir, or the default data dir if dir is "".
func dataDirPath(dir string) (string, error) {
	if dir != "" {
		return dir, nil
	}
	config, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("no place for udpchat's data: %v; choose a directory with --data-dir", err)
	}
	return filepath.Join(config, "udpchat"), nil
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
