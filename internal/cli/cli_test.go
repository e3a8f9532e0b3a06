package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestParseFlagsAndExitCode(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"flags only", []string{"--addr", "x"}, 0, ""},
		{"help", []string{"--help"}, 0, "help requested"},
		{"unknown flag", []string{"--nosuch"}, 2, "not defined: -nosuch"},
		{"bad value", []string{"--n", "many"}, 2, "invalid value"},
		{"positional argument", []string{"--addr", "x", "extra"}, 2, `demo: unexpected arguments ["extra"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			fs := NewFlagSet("demo", &stderr)
			fs.String("addr", "", "an address")
			fs.Int("n", 0, "a number")
			err := ParseFlags(fs, tt.args)
			if got := ExitCode(err); got != tt.wantCode {
				t.Errorf("ExitCode(%v) = %d, want %d", err, got, tt.wantCode)
			}
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ParseFlags: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ParseFlags = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestExitCode(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{nil, 0},
		{errors.New("boom"), 1},
		{Usage("--tokens must be at least %d", 1), 2},
		{fmt.Errorf("wrapped: %w", Usage("bad")), 2},
	}
	for _, tt := range tests {
		if got := ExitCode(tt.err); got != tt.want {
			t.Errorf("ExitCode(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
	if got := Usage("--tokens must be at least %d", 1).Error(); got != "--tokens must be at least 1" {
		t.Errorf("Usage message = %q", got)
	}
}

// mainChild is the environment variable that makes this test binary run
// Main with the run function it names instead of the tests.
const mainChild = "CLI_TEST_MAIN"

func TestMain(m *testing.M) {
	runs := map[string]RunFunc{
		"ok": func(_ context.Context, args []string, stdout, _ io.Writer) error {
			fmt.Fprintln(stdout, "args", args)
			return nil
		},
		"fail":  func(context.Context, []string, io.Writer, io.Writer) error { return errors.New("it broke") },
		"usage": func(context.Context, []string, io.Writer, io.Writer) error { return Usage("no command given") },
		"help": func(_ context.Context, args []string, _, stderr io.Writer) error {
			return ParseFlags(NewFlagSet("demo", stderr), args)
		},
	}
	if name := os.Getenv(mainChild); name != "" {
		Main("demo", runs[name])
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestMainExits runs Main in a child process and checks its exit code and
// what it prints.
func TestMainExits(t *testing.T) {
	tests := []struct {
		run, arg   string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{"ok", "a", 0, "args [a]\n", ""},
		{"fail", "", 1, "", "demo: it broke\n"},
		{"usage", "", 2, "", "demo: no command given\n"},
		{"help", "--help", 0, "", "Usage of demo:\n"},
	}
	for _, tt := range tests {
		t.Run(tt.run, func(t *testing.T) {
			cmd := exec.Command(os.Args[0])
			if tt.arg != "" {
				cmd.Args = append(cmd.Args, tt.arg)
			}
			cmd.Env = append(os.Environ(), mainChild+"="+tt.run)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.wantCode || stdout.String() != tt.wantStdout || stderr.String() != tt.wantStderr {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d, stdout %q, stderr %q",
					code, stdout.String(), stderr.String(), tt.wantCode, tt.wantStdout, tt.wantStderr)
			}
		})
	}
}
