package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"testing"

	"go.uber.org/goleak"
)

// udpchatBinary is the udpchat executable the end-to-end tests run, built once.
var udpchatBinary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "udpchat-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	udpchatBinary = filepath.Join(dir, "udpchat")
	// No VCS stamp: the build must work in a checkout with no commits.
	args := []string{"build", "-buildvcs=false", "-o", udpchatBinary}
	if raceEnabled() {
		args = append(args, "-race") // so the processes report races too
	}
	build := exec.Command("go", append(args, ".")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building udpchat:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// raceEnabled says whether this test binary was built with -race.
func raceEnabled() bool {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "-race" {
				return s.Value == "true"
			}
		}
	}
	return false
}
