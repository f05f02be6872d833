package validate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtrun/rt/libcontainer/specjson"
)

// MaxConfigSize bounds config.json: real configs are a few KiB (a large
// seccomp profile ~100 KiB), and a bound keeps a hostile bundle from making
// create read gigabytes. Nesting depth is bounded by encoding/json (10000).
const MaxConfigSize = 16 << 20

// Load reads and decodes <bundle>/config.json. It reports a missing file, a
// file that is not regular or is larger than MaxConfigSize, a JSON syntax
// error with its line and column, and a value of the wrong JSON type with the
// path of its field. Unknown fields are ignored, as the spec requires. Load
// does not validate the content: call Spec for that.
func Load(bundle string) (*specs.Spec, error) {
	p := filepath.Join(bundle, "config.json")
	f, err := os.Open(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("bundle %q has no config.json: %w", bundle, err)
		}
		return nil, fmt.Errorf("open config: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("open config: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file (%s)", p, fi.Mode().Type())
	}
	if fi.Size() > MaxConfigSize {
		return nil, fmt.Errorf("%s: %d bytes is larger than the limit of %d", p, fi.Size(), MaxConfigSize)
	}
	// Read one byte past the limit: the file may have grown since Stat.
	data, err := io.ReadAll(io.LimitReader(f, MaxConfigSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	if len(data) > MaxConfigSize {
		return nil, fmt.Errorf("%s: larger than the limit of %d bytes", p, MaxConfigSize)
	}
	s, err := Decode(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return s, nil
}

// Decode decodes a config.json document, with the error reporting of Load.
func Decode(data []byte) (*specs.Spec, error) {
	var s specs.Spec
	err := specjson.Unmarshal(data, &s, specjson.ReadSpec)
	if err == nil {
		return &s, nil
	}
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		line, col := position(data, syn.Offset+syntaxOffsetAdjust)
		return nil, fmt.Errorf("invalid JSON at line %d, column %d: %w", line, col, err)
	}
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		line, col := position(data, typ.Offset)
		field := typ.Field
		if field == "" {
			field = "(top level)"
		}
		return nil, fmt.Errorf("%s: wrong JSON type: got %s, want %s (line %d, column %d)", field, typ.Value, jsonKind(typ.Type.Kind().String()), line, col)
	}
	return nil, fmt.Errorf("decode: %w", err)
}

// position converts a byte offset into a 1-based line and column. The offset
// of a SyntaxError points just past the offending byte.
func position(data []byte, offset int64) (line, col int) {
	if offset > int64(len(data)) {
		offset = int64(len(data))
	}
	if offset < 0 {
		offset = 0
	}
	before := data[:offset]
	line = bytes.Count(before, []byte("\n")) + 1
	if i := bytes.LastIndexByte(before, '\n'); i < 0 {
		col = int(offset)
	} else {
		col = int(offset) - i - 1
	}
	if col < 1 {
		col = 1
	}
	return line, col
}

// jsonKind names a Go kind the way a config author thinks of JSON.
func jsonKind(kind string) string {
	switch kind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "slice", "array":
		return "array"
	case "struct", "map":
		return "object"
	case "int", "int8", "int16", "int32", "int64":
		return "integer"
	case "uint", "uint8", "uint16", "uint32", "uint64":
		return "non-negative integer"
	case "float32", "float64":
		return "number"
	}
	return kind
}
