package auth

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	htpasswd "github.com/tg123/go-htpasswd"
)

// basic checks users against an htpasswd file (bcrypt, SHA, MD5 ... as
// Apache's htpasswd writes them), re-read when it changes, and inline users.
type basic struct {
	name, role string
	file       string
	inline     *htpasswd.File
	sessions   *sessions

	mu      sync.Mutex
	entries *htpasswd.File
	mtime   time.Time
	checked time.Time
	// good remembers, for a minute, the user and password hashes that
	// matched: the CLI sends Basic credentials with every request, and a
	// bcrypt check costs tens of milliseconds. Emptied when the file changes.
	good map[[32]byte]time.Time
}

func newBasic(name, file string, users map[string]string, role string) (*basic, error) {
	if file == "" && len(users) == 0 {
		return nil, fmt.Errorf("auth.%s: a basic backend needs a file (htpasswd) or users", name)
	}
	b := &basic{name: name, role: role, file: file, sessions: newSessions(24 * time.Hour)}
	if len(users) > 0 {
		names := make([]string, 0, len(users))
		for u := range users {
			names = append(names, u)
		}
		sort.Strings(names)
		var lines strings.Builder
		for _, u := range names {
			fmt.Fprintf(&lines, "%s:%s\n", u, users[u])
		}
		// Inline passwords may be written in clear, or hashed as in a file.
		parsers := append(append([]htpasswd.PasswdParser{}, htpasswd.DefaultSystems...), htpasswd.AcceptPlain)
		f, err := htpasswd.NewFromReader(strings.NewReader(lines.String()), parsers, nil)
		if err != nil {
			return nil, fmt.Errorf("auth.%s.users: %w", name, err)
		}
		b.inline = f
	}
	if file != "" {
		if err := b.reload(); err != nil {
			return nil, fmt.Errorf("auth.%s.file: %w", name, err)
		}
	}
	return b, nil
}

func (b *basic) Name() string { return b.name }
func (b *basic) Role() string { return b.role }

// reload reads the file again when it changed (checked at most every
// second), so that users are added without a restart.
func (b *basic) reload() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	if b.entries != nil && now.Sub(b.checked) < time.Second {
		return nil
	}
	b.checked = now
	st, err := os.Stat(b.file)
	if err != nil {
		return err
	}
	if b.entries != nil && st.ModTime().Equal(b.mtime) {
		return nil
	}
	var bad []string
	f, err := htpasswd.New(b.file, htpasswd.DefaultSystems, func(err error) { bad = append(bad, err.Error()) })
	if err != nil {
		return err
	}
	if len(bad) > 0 && b.entries == nil {
		return fmt.Errorf("%s: %s", b.file, strings.Join(bad, "; "))
	}
	b.entries, b.mtime = f, st.ModTime()
	b.good = nil
	return nil
}

func (b *basic) match(user, password string) bool {
	if user == "" {
		return false
	}
	if b.file != "" {
		_ = b.reload() // on error, the entries read last stay
	}
	key := sha256.Sum256([]byte(user + "\x00" + password))
	now := time.Now()
	b.mu.Lock()
	f, until := b.entries, b.good[key]
	b.mu.Unlock()
	if now.Before(until) {
		return true
	}
	ok := (b.inline != nil && b.inline.Match(user, password)) || (f != nil && f.Match(user, password))
	if ok {
		b.mu.Lock()
		if b.good == nil || len(b.good) > 10000 {
			b.good = map[[32]byte]time.Time{}
		}
		b.good[key] = now.Add(time.Minute)
		b.mu.Unlock()
	}
	return ok
}

func (b *basic) Login(_ context.Context, user, password string) (string, error) {
	if !b.match(user, password) {
		return "", ErrWrongCredentials
	}
	return b.sessions.issue(user), nil
}

func (b *basic) Token(_ context.Context, tok string) (string, error) {
	if user, ok := b.sessions.user(tok); ok {
		return user, nil
	}
	if user, password, ok := basicToken(tok); ok && b.match(user, password) {
		return user, nil
	}
	return "", ErrWrongCredentials
}
