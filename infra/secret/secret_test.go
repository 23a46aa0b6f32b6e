package secret

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSecretNeverPrints(t *testing.T) {
	const value = "hunter2-secret"
	type holder struct {
		User     string
		Password Secret
	}
	h := holder{User: "u", Password: value}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "holder", h, "password", h.Password)
	var text bytes.Buffer
	slog.New(slog.NewTextHandler(&text, nil)).Info("config", "password", h.Password)
	js, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{
		fmt.Sprint(h), fmt.Sprintf("%v %+v %#v %s %q %x %X %d", h, h, h, h.Password, h.Password, h.Password, h.Password, h.Password),
		fmt.Errorf("wrapped %v", h.Password).Error(), logged.String(), text.String(), string(js),
	} {
		if strings.Contains(out, value) || strings.Contains(out, fmt.Sprintf("%x", value)) || !strings.Contains(out, Redacted) {
			t.Errorf("printed %q: want the password redacted", out)
		}
	}
	if h.Password.Reveal() != value {
		t.Fatal("Reveal lost the value")
	}
	if got := fmt.Sprintf("%v|%#v", Secret(""), Secret("")); got != "|" {
		t.Fatalf("the empty secret prints %q, want nothing", got)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	file := write("pw", "from-file\r\nsecond line\n")
	empty := write("empty", "\n")
	const envName = "TEST_PASSWORD"
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == envName {
				return v
			}
			return ""
		}
	}
	for _, tc := range []struct {
		name, file, envName, env string
		want                     Secret
		err                      error
	}{
		{name: "neither"},
		{name: "file", file: file, envName: envName, want: "from-file"},
		{name: "env", envName: envName, env: "from-env", want: "from-env"},
		{name: "no variable consulted", file: file, env: "from-env", want: "from-file"},
		{name: "both", file: file, envName: envName, env: "from-env", err: ErrBothSet},
		{name: "empty file", file: empty, envName: envName, err: ErrEmpty},
		{name: "missing file", file: filepath.Join(dir, "none"), envName: envName, err: os.ErrNotExist},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Load(tc.file, tc.envName, env(tc.env))
			if got != tc.want || !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
				t.Fatalf("Load = %q, %v; want %q, %v", got.Reveal(), err, tc.want.Reveal(), tc.err)
			}
			if err == nil {
				return
			}
			if strings.Contains(err.Error(), "from-") {
				t.Fatalf("error shows the secret: %v", err)
			}
			if tc.err == ErrBothSet && (!strings.Contains(err.Error(), tc.file) || !strings.Contains(err.Error(), envName)) {
				t.Fatalf("error %v: want it to name the file and %s", err, envName)
			}
		})
	}
}
