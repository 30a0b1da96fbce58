package export

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/skydive-ng/skydive/internal/flow"
)

// JSONL file names: the current file and the rotated ones.
const (
	jsonlCurrent = "flows.jsonl"
	jsonlPrefix  = "flows-"
	jsonlSuffix  = ".jsonl"
	// DefaultRotateMB is the size at which a jsonl file is rotated.
	DefaultRotateMB = 100
)

// JSONLWriter writes flows as JSON lines (the API's Flow JSON, one flow
// per line) into Dir/flows.jsonl; once the file reaches RotateBytes it is
// renamed flows-<UTC time>.jsonl and a new one started, and only the Keep
// newest rotated files are kept (0: all). Not safe for concurrent use.
type JSONLWriter struct {
	Dir         string
	RotateBytes int64
	Keep        int
	// Now names rotated files (time.Now if nil).
	Now func() time.Time

	f    *os.File
	w    *bufio.Writer
	size int64
	last string // name of the last rotated file
}

func (j *JSONLWriter) open() error {
	if err := os.MkdirAll(j.Dir, 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(j.Dir, jsonlCurrent), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	j.f, j.w, j.size = f, bufio.NewWriterSize(f, 64<<10), st.Size()
	return nil
}

// Write appends flows, one line each, rotating the file when it is full,
// then flushes.
func (j *JSONLWriter) Write(flows []*flow.Flow) error {
	if j.f == nil {
		if err := j.open(); err != nil {
			return err
		}
	}
	for _, f := range flows {
		line, err := json.Marshal(f)
		if err != nil {
			return err
		}
		line = append(line, '\n')
		if j.RotateBytes > 0 && j.size > 0 && j.size+int64(len(line)) > j.RotateBytes {
			if err := j.rotate(); err != nil {
				return err
			}
		}
		if _, err := j.w.Write(line); err != nil {
			return err
		}
		j.size += int64(len(line))
	}
	return j.w.Flush()
}

func (j *JSONLWriter) rotate() error {
	if err := j.Close(); err != nil {
		return err
	}
	now := time.Now
	if j.Now != nil {
		now = j.Now
	}
	name := jsonlPrefix + now().UTC().Format("20060102T150405.000000000Z") + jsonlSuffix
	if name <= j.last {
		// the clock did not move on: keep names ordered and distinct
		name = strings.TrimSuffix(j.last, jsonlSuffix) + "-1" + jsonlSuffix
	}
	if err := os.Rename(filepath.Join(j.Dir, jsonlCurrent), filepath.Join(j.Dir, name)); err != nil {
		return err
	}
	j.last = name
	if err := j.prune(); err != nil {
		return err
	}
	return j.open()
}

// Rotated returns the rotated files, oldest first.
func (j *JSONLWriter) Rotated() ([]string, error) {
	ents, err := os.ReadDir(j.Dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if n := e.Name(); strings.HasPrefix(n, jsonlPrefix) && strings.HasSuffix(n, jsonlSuffix) {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out, nil
}

func (j *JSONLWriter) prune() error {
	if j.Keep <= 0 {
		return nil
	}
	files, err := j.Rotated()
	if err != nil {
		return err
	}
	for len(files) > j.Keep {
		if err := os.Remove(filepath.Join(j.Dir, files[0])); err != nil {
			return fmt.Errorf("remove old flow file: %w", err)
		}
		files = files[1:]
	}
	return nil
}

// Close flushes and closes the current file.
func (j *JSONLWriter) Close() error {
	if j.f == nil {
		return nil
	}
	err := j.w.Flush()
	if cerr := j.f.Close(); err == nil {
		err = cerr
	}
	j.f, j.w = nil, nil
	return err
}
