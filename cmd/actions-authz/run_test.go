package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/actions-authz/actions-authz/internal/cli"
)

func TestRunCommands(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		code     int // exit code; -1 means success
		stdout   string
		errorHas string
	}{
		{name: "version", args: []string{"version"}, code: -1, stdout: "actions-authz dev commit "},
		{name: "no command", args: nil, code: 2, errorHas: "no command"},
		{name: "unknown command", args: []string{"frobnicate"}, code: 2, errorHas: "unknown command"},
		{name: "check valid", args: []string{"check", "--config", "testdata/valid.yaml"}, code: -1, stdout: "ok (1 policies)"},
		{name: "check invalid names the place", args: []string{"check", "--config", "testdata/invalid.yaml"}, code: 1, errorHas: `policy "default"`},
		{name: "check missing file", args: []string{"check", "--config", "testdata/nope.yaml"}, code: 1, errorHas: "nope.yaml"},
		{name: "check without config", args: []string{"check"}, code: 2, errorHas: "--config is required"},
		{name: "check bad flag", args: []string{"check", "--frob"}, code: 2},
		{name: "serve without config", args: []string{"serve"}, code: 2, errorHas: "--config is required"},
		{name: "serve invalid config", args: []string{"serve", "--config", "testdata/invalid.yaml"}, code: 1, errorHas: "allow[0]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tc.args, &stdout, &stderr)
			if tc.code == -1 {
				if err != nil {
					t.Fatalf("run: %v (stderr %s)", err, stderr.String())
				}
			} else {
				if err == nil {
					t.Fatalf("run succeeded, want exit %d", tc.code)
				}
				if got := cli.ExitCode(err); got != tc.code {
					t.Errorf("exit code %d, want %d (%v)", got, tc.code, err)
				}
				if !strings.Contains(err.Error(), tc.errorHas) {
					t.Errorf("error %q does not contain %q", err, tc.errorHas)
				}
			}
			if !strings.Contains(stdout.String(), tc.stdout) {
				t.Errorf("stdout %q does not contain %q", stdout.String(), tc.stdout)
			}
		})
	}
}
