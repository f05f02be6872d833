// Package specjson decodes and encodes the runtime spec, rt's state file
// and its sync messages with code generated from their Go types, in place
// of encoding/json's reflection.
//
// encoding/json builds its decoder for a type the first time it meets the
// type, by reflection over every field, in every process: for a spec that
// is ~0.2 ms of each rt command, and rt starts a new process for every
// command and every container init. The generated code does the same work
// with no set-up.
//
// It is a fast path, not a second implementation: it accepts only input it
// can decode exactly as encoding/json would (each name spelled as the
// field's tag, no duplicate names, valid UTF-8, numbers that fit), and for
// anything else Unmarshal falls back to encoding/json, which then gives the
// result or the error it always gave. Marshal falls back the same way (for
// invalid UTF-8 or a float that is not finite). What both paths produce is
// checked against encoding/json by the tests (differential and fuzz).
//
// The generated files are made by hack/jsongen from the types; a test in
// each package fails when they are out of date (RT_JSONGEN=1 rewrites them).
package specjson

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"encoding/json/jsontext"
	"errors"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"unsafe"
)

// ErrFallback: the fast path does not take this input; encoding/json does.
var ErrFallback = errors.New("specjson: input for encoding/json")

// Unmarshal decodes data into *v, which must be the zero value, as
// json.Unmarshal(data, v) would.
func Unmarshal[T any](data []byte, v *T, read func(*jsontext.Decoder, *T) error) error {
	if err := Fast(data, v, read); err == nil {
		return nil
	}
	return json.Unmarshal(data, v)
}

// Fast is Unmarshal without the fallback: an error only says the fast path
// did not take data (and *v is untouched).
func Fast[T any](data []byte, v *T, read func(*jsontext.Decoder, *T) error) error {
	d := jsontext.NewDecoder(bytes.NewReader(data))
	var tmp T
	if err := read(d, &tmp); err != nil {
		return err
	}
	if _, err := d.ReadToken(); err != io.EOF {
		return ErrFallback
	}
	*v = tmp
	return nil
}

// Marshal encodes *v as json.Marshal(v) would, up to the order of map keys
// (sorted here too) and the escaping of characters both decode the same.
func Marshal[T any](v *T, app func([]byte, *T) ([]byte, error)) ([]byte, error) {
	if b, err := app(make([]byte, 0, 4096), v); err == nil {
		return b, nil
	}
	return json.Marshal(v)
}

// Null consumes a null if one is next.
func Null(d *jsontext.Decoder) (bool, error) {
	if d.PeekKind() != 'n' {
		return false, nil
	}
	_, err := d.ReadToken()
	return true, err
}

// Open consumes the start of an object ('{') or array ('['). null gives
// false: the caller leaves its value as encoding/json would.
func Open(d *jsontext.Decoder, kind jsontext.Kind) (bool, error) {
	tok, err := d.ReadToken()
	if err != nil {
		return false, err
	}
	switch tok.Kind() {
	case kind:
		return true, nil
	case 'n':
		return false, nil
	}
	return false, ErrFallback
}

// More reports whether another member or element follows; at the end it
// consumes the closing '}' or ']'.
func More(d *jsontext.Decoder) (bool, error) {
	switch d.PeekKind() {
	case '}', ']':
		_, err := d.ReadToken()
		return false, err
	case 0:
		_, err := d.ReadToken()
		if err == nil {
			err = ErrFallback
		}
		return false, err
	}
	return true, nil
}

// Name reads an object member's name, still quoted (the generated code
// compares it with the quoted field names).
func Name(d *jsontext.Decoder) ([]byte, error) {
	v, err := d.ReadValue()
	if err != nil {
		return nil, err
	}
	if v.Kind() != '"' {
		return nil, ErrFallback
	}
	return v, nil
}

// Unknown handles a member whose name is no field's exact name:
// encoding/json ignores it unless it matches a field but for case (or is
// spelled with escapes); the fast path skips it or gives up.
func Unknown(d *jsontext.Decoder, quoted []byte, fields []string) error {
	name, err := jsontext.AppendUnquote(nil, quoted)
	if err != nil {
		return ErrFallback
	}
	for _, f := range fields {
		if strings.EqualFold(f, string(name)) {
			return ErrFallback
		}
	}
	return d.SkipValue()
}

// String reads a JSON string into *p; null leaves it.
func String[T ~string](d *jsontext.Decoder, p *T) error {
	v, err := d.ReadValue()
	if err != nil {
		return err
	}
	switch v.Kind() {
	case '"':
		s, err := unquote(v)
		if err != nil {
			return err
		}
		*p = T(s)
		return nil
	case 'n':
		return nil
	}
	return ErrFallback
}

// Key reads a member name as a map key.
func Key[T ~string](d *jsontext.Decoder) (T, error) {
	v, err := Name(d)
	if err != nil {
		return "", err
	}
	s, err := unquote(v)
	return T(s), err
}

func unquote(v []byte) (string, error) {
	if bytes.IndexByte(v, '\\') < 0 {
		return string(v[1 : len(v)-1]), nil
	}
	b, err := jsontext.AppendUnquote(nil, v)
	if err != nil {
		return "", ErrFallback
	}
	return string(b), nil
}

// Bool reads true or false into *p; null leaves it.
func Bool[T ~bool](d *jsontext.Decoder, p *T) error {
	v, err := d.ReadValue()
	if err != nil {
		return err
	}
	switch v.Kind() {
	case 't', 'f':
		*p = T(v.Kind() == 't')
		return nil
	case 'n':
		return nil
	}
	return ErrFallback
}

// number reads a number literal; nil for null.
func number(d *jsontext.Decoder) ([]byte, error) {
	v, err := d.ReadValue()
	if err != nil {
		return nil, err
	}
	switch v.Kind() {
	case '0':
		return v, nil
	case 'n':
		return nil, nil
	}
	return nil, ErrFallback
}

// Int reads an integer that fits T into *p; null leaves it.
func Int[T ~int | ~int8 | ~int16 | ~int32 | ~int64](d *jsontext.Decoder, p *T) error {
	v, err := number(d)
	if v == nil {
		return err
	}
	n, err := strconv.ParseInt(string(v), 10, int(unsafe.Sizeof(*p))*8)
	if err != nil {
		return ErrFallback
	}
	*p = T(n)
	return nil
}

// Uint reads an unsigned integer that fits T into *p; null leaves it.
func Uint[T ~uint | ~uint8 | ~uint16 | ~uint32 | ~uint64 | ~uintptr](d *jsontext.Decoder, p *T) error {
	v, err := number(d)
	if v == nil {
		return err
	}
	n, err := strconv.ParseUint(string(v), 10, int(unsafe.Sizeof(*p))*8)
	if err != nil {
		return ErrFallback
	}
	*p = T(n)
	return nil
}

// Float reads a number into *p; null leaves it.
func Float[T ~float32 | ~float64](d *jsontext.Decoder, p *T) error {
	v, err := number(d)
	if v == nil {
		return err
	}
	f, err := strconv.ParseFloat(string(v), int(unsafe.Sizeof(*p))*8)
	if err != nil {
		return ErrFallback
	}
	*p = T(f)
	return nil
}

// Bytes reads base64 (standard encoding, as encoding/json writes []byte);
// null gives nil.
func Bytes[T ~[]byte](d *jsontext.Decoder, p *T) error {
	v, err := d.ReadValue()
	if err != nil {
		return err
	}
	switch v.Kind() {
	case '"':
		if bytes.IndexByte(v, '\\') >= 0 {
			return ErrFallback
		}
		b, err := base64.StdEncoding.Strict().DecodeString(string(v[1 : len(v)-1]))
		if err != nil {
			return ErrFallback
		}
		*p = T(b)
		return nil
	case 'n':
		*p = nil
		return nil
	}
	return ErrFallback
}

// With decodes one value of a type with its own UnmarshalJSON (time.Time)
// by calling it, as encoding/json does; other types (UnmarshalText) go
// through encoding/json.
func With[T any](d *jsontext.Decoder, p *T) error {
	v, err := d.ReadValue()
	if err != nil {
		return err
	}
	if u, ok := any(p).(json.Unmarshaler); ok {
		err = u.UnmarshalJSON(v)
	} else {
		err = json.Unmarshal(v, p)
	}
	if err != nil {
		return ErrFallback
	}
	return nil
}

// Refuse is for a value of a type the fast path leaves to encoding/json
// (platforms other than Linux): a null is fine, anything else falls back.
func Refuse[T any](d *jsontext.Decoder, _ *T) error {
	if null, err := Null(d); null || err != nil {
		return err
	}
	return ErrFallback
}

// Ptr reads null as nil, anything else into a new T.
func Ptr[T any](d *jsontext.Decoder, p **T, read func(*jsontext.Decoder, *T) error) error {
	if null, err := Null(d); null || err != nil {
		*p = nil
		return err
	}
	v := new(T)
	if err := read(d, v); err != nil {
		return err
	}
	*p = v
	return nil
}

// Slice reads an array (null: nil; [] an empty slice, as encoding/json).
func Slice[T any](d *jsontext.Decoder, p *[]T, read func(*jsontext.Decoder, *T) error) error {
	ok, err := Open(d, '[')
	if !ok {
		if err == nil {
			*p = nil
		}
		return err
	}
	s := make([]T, 0)
	for {
		more, err := More(d)
		if !more {
			if err == nil {
				*p = s
			}
			return err
		}
		var e T
		if err := read(d, &e); err != nil {
			return err
		}
		s = append(s, e)
	}
}

// Map reads an object with string keys (null: nil).
func Map[K ~string, V any](d *jsontext.Decoder, p *map[K]V, read func(*jsontext.Decoder, *V) error) error {
	ok, err := Open(d, '{')
	if !ok {
		if err == nil {
			*p = nil
		}
		return err
	}
	m := make(map[K]V)
	for {
		more, err := More(d)
		if !more {
			if err == nil {
				*p = m
			}
			return err
		}
		k, err := Key[K](d)
		if err != nil {
			return err
		}
		var e V
		if err := read(d, &e); err != nil {
			return err
		}
		m[k] = e
	}
}

// Member appends "name": and the value and a comma (Close drops the last).
// Not inlined: it is called for every field of every type (code size).
//
//go:noinline
func Member[T any](b []byte, quotedName string, p *T, app func([]byte, *T) ([]byte, error)) ([]byte, error) {
	b = append(b, quotedName...)
	b, err := app(b, p)
	return append(b, ','), err
}

// AppendString appends *p quoted; invalid UTF-8 makes Marshal fall back.
func AppendString[T ~string](b []byte, p *T) ([]byte, error) {
	return jsontext.AppendQuote(b, string(*p))
}

// AppendBool appends true or false.
func AppendBool[T ~bool](b []byte, p *T) ([]byte, error) {
	return strconv.AppendBool(b, bool(*p)), nil
}

// AppendInt appends a signed integer.
func AppendInt[T ~int | ~int8 | ~int16 | ~int32 | ~int64](b []byte, p *T) ([]byte, error) {
	return strconv.AppendInt(b, int64(*p), 10), nil
}

// AppendUint appends an unsigned integer.
func AppendUint[T ~uint | ~uint8 | ~uint16 | ~uint32 | ~uint64 | ~uintptr](b []byte, p *T) ([]byte, error) {
	return strconv.AppendUint(b, uint64(*p), 10), nil
}

// AppendFloat appends a number that decodes to *p exactly.
func AppendFloat[T ~float32 | ~float64](b []byte, p *T) ([]byte, error) {
	x := float64(*p)
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return b, ErrFallback
	}
	return strconv.AppendFloat(b, x, 'g', -1, int(unsafe.Sizeof(*p))*8), nil
}

// AppendBytes appends base64 (null for nil).
func AppendBytes[T ~[]byte](b []byte, p *T) ([]byte, error) {
	if *p == nil {
		return append(b, "null"...), nil
	}
	b = append(b, '"')
	b = base64.StdEncoding.AppendEncode(b, *p)
	return append(b, '"'), nil
}

// AppendWith appends *p as encoding/json encodes it: by its MarshalJSON
// (time.Time), checked to be one valid JSON value, or through
// encoding/json (MarshalText).
func AppendWith[T any](b []byte, p *T) ([]byte, error) {
	var j []byte
	var err error
	if m, ok := any(p).(json.Marshaler); ok {
		if j, err = m.MarshalJSON(); err == nil && !jsontext.Value(j).IsValid() {
			err = ErrFallback
		}
	} else {
		j, err = json.Marshal(p)
	}
	if err != nil {
		return b, ErrFallback
	}
	return append(b, j...), nil
}

// AppendRefuse: the type is left to encoding/json.
func AppendRefuse[T any](b []byte, _ *T) ([]byte, error) { return b, ErrFallback }

// AppendPtr appends null for nil, else the value.
func AppendPtr[T any](b []byte, p **T, app func([]byte, *T) ([]byte, error)) ([]byte, error) {
	if *p == nil {
		return append(b, "null"...), nil
	}
	return app(b, *p)
}

// AppendSlice appends an array (null for nil).
func AppendSlice[T any](b []byte, p *[]T, app func([]byte, *T) ([]byte, error)) ([]byte, error) {
	if *p == nil {
		return append(b, "null"...), nil
	}
	b = append(b, '[')
	for i := range *p {
		var err error
		if b, err = app(b, &(*p)[i]); err != nil {
			return b, err
		}
		b = append(b, ',')
	}
	return Close(b, ']'), nil
}

// AppendMap appends an object with the keys sorted (null for nil).
func AppendMap[K ~string, V any](b []byte, p *map[K]V, app func([]byte, *V) ([]byte, error)) ([]byte, error) {
	if *p == nil {
		return append(b, "null"...), nil
	}
	b = append(b, '{')
	for _, k := range slices.Sorted(maps.Keys(*p)) {
		var err error
		if b, err = jsontext.AppendQuote(b, string(k)); err != nil {
			return b, err
		}
		b = append(b, ':')
		v := (*p)[k]
		if b, err = app(b, &v); err != nil {
			return b, err
		}
		b = append(b, ',')
	}
	return Close(b, '}'), nil
}

// Close ends an object or array whose members each end in a comma.
func Close(b []byte, c byte) []byte {
	if b[len(b)-1] == ',' {
		b[len(b)-1] = c
		return b
	}
	return append(b, c)
}
