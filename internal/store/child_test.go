package store

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"testing"
)

// The environment of a child process: its role and the data dir it opens.
const (
	childRoleEnv = "UDPCHAT_STORE_TEST_CHILD"
	childDirEnv  = "UDPCHAT_STORE_TEST_DIR"
	// childRunEnv makes the crash child's IDs differ between runs.
	childRunEnv = "UDPCHAT_STORE_TEST_RUN"
)

// childMain is a child process: it opens the store in $childDirEnv and acts
// out role, reporting on stdout. Its exit code is its result.
func childMain(role string) int {
	ctx := context.Background()
	dir := os.Getenv(childDirEnv)
	s, err := Open(ctx, dir)
	if role == "open" {
		// Report how Open failed (the permission test).
		if err == nil {
			s.Close()
			fmt.Println("opened")
			return 0
		}
		fmt.Println(err)
		return 0
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer s.Close()
	switch role {
	case "hold":
		// Hold the lock until stdin closes.
		fmt.Println("ready")
		io.Copy(io.Discard, os.Stdin)
		return 0
	case "write-and-hold":
		// Store 100 messages, say so, and wait to be killed: the WAL
		// then holds them, not yet checkpointed.
		for i := range 100 {
			m := testMessage("alice", crashID(9, i), fmt.Sprintf("held message %d", i))
			if _, err := s.AddIncoming(ctx, m); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
		}
		fmt.Println("ready")
		io.Copy(io.Discard, os.Stdin)
		return 0
	case "crash":
		// Store messages until killed, printing each ID once AddIncoming
		// has returned, which is when a receiver acknowledges it.
		run, _ := strconv.Atoi(os.Getenv(childRunEnv))
		for i := range 1_000_000 {
			m := testMessage("alice", crashID(run, i), fmt.Sprintf("crash run %d message %d", run, i))
			if _, err := s.AddIncoming(ctx, m); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			// os.Stdout is unbuffered: once printed, the parent can
			// read the line even if this process dies right after.
			fmt.Println(hex.EncodeToString(m.ID[:]))
		}
		return 0
	}
	fmt.Fprintln(os.Stderr, "unknown role", role)
	return 2
}

func crashID(run, i int) [16]byte {
	var id [16]byte
	id[0] = byte(run)
	id[12], id[13], id[14], id[15] = byte(i>>24), byte(i>>16), byte(i>>8), byte(i)
	return id
}

// child returns the command for a child process of role on dir.
func child(t *testing.T, role, dir string, env ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), childRoleEnv+"="+role, childDirEnv+"="+dir)
	cmd.Env = append(cmd.Env, env...)
	cmd.Stderr = os.Stderr
	return cmd
}
