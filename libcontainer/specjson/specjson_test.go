package specjson

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtrun/rt/hack/jsongen"
	"github.com/rtrun/rt/libcontainer/specdefault"
)

var platforms = map[reflect.Type]bool{
	reflect.TypeFor[specs.Windows](): true, reflect.TypeFor[specs.Solaris](): true,
	reflect.TypeFor[specs.VM](): true, reflect.TypeFor[specs.ZOS](): true, reflect.TypeFor[specs.FreeBSD](): true,
}

// checkSpec: data decodes on the fast path to what encoding/json gives, and
// the fast encoding of it decodes (both ways) to the same again.
func checkSpec(t *testing.T, name string, data []byte) {
	t.Helper()
	var want, got specs.Spec
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatalf("%s: encoding/json: %v", name, err)
	}
	if err := Fast(data, &got, ReadSpec); err != nil {
		t.Fatalf("%s: fast path refused it: %v", name, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: fast path decodes\n%+v\nencoding/json\n%+v", name, got, want)
	}
	b, err := AppendSpec(nil, &want)
	if err != nil {
		t.Fatalf("%s: fast encoding: %v", name, err)
	}
	var again, again2 specs.Spec
	if err := json.Unmarshal(b, &again); err != nil || !reflect.DeepEqual(again, want) {
		t.Fatalf("%s: encoding/json reads the fast encoding as\n%+v (%v)\nnot\n%+v\n%s", name, again, err, want, b)
	}
	if err := Fast(b, &again2, ReadSpec); err != nil || !reflect.DeepEqual(again2, want) {
		t.Fatalf("%s: fast path reads its encoding as\n%+v (%v)", name, again2, err)
	}
}

func TestSpecs(t *testing.T) {
	b, _ := json.Marshal(specdefault.Example())
	checkSpec(t, "specdefault", b)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 200 {
		var s specs.Spec
		jsongen.Fill(reflect.ValueOf(&s).Elem(), r, platforms)
		b, err := json.Marshal(&s)
		if err != nil {
			t.Fatal(err)
		}
		checkSpec(t, "random spec "+string(rune('0'+i%10)), b)
	}
}

// Input the fast path must leave to encoding/json, and what it gives then.
func TestFallback(t *testing.T) {
	for _, in := range []string{
		`{"Process":{"args":["a"]}}`,                       // a name that matches but for case
		`{"pr\u006fcess":{"args":["a"]}}`,                  // spelled with an escape
		`{"process":{"cwd":"/"},"process":{"args":["a"]}}`, // duplicate: encoding/json merges
		`{"linux":{"resources":{"pids":{"limit":1.0}}}}`,   // not an integer
		`{"linux":{"resources":{"pids":{"limit":1e3}}}}`,
		`{"process":{"user":{"uid":4294967296}}}`, // does not fit
		"{\"hostname\":\"\xff\"}",                 // invalid UTF-8
		`{"windows":{"layerFolders":["c:\\x"]}}`,  // another platform
		`{"ociVersion":1}`, `[]`, `{"ociVersion":"1"} x`, `{"process":`,
	} {
		var fast specs.Spec
		if err := Fast([]byte(in), &fast, ReadSpec); err == nil {
			t.Errorf("fast path took %s", in)
		}
		var got, want specs.Spec
		gotErr := Unmarshal([]byte(in), &got, ReadSpec)
		wantErr := json.Unmarshal([]byte(in), &want)
		if !reflect.DeepEqual(got, want) || (gotErr == nil) != (wantErr == nil) || (gotErr != nil && gotErr.Error() != wantErr.Error()) {
			t.Errorf("%s: Unmarshal gives %+v, %v; encoding/json %+v, %v", in, got, gotErr, want, wantErr)
		}
	}
	// Unknown names are skipped, as encoding/json does.
	var s specs.Spec
	if err := Fast([]byte(`{"x-unknown":{"a":[1,{"b":null}]},"hostname":"h"}`), &s, ReadSpec); err != nil || s.Hostname != "h" {
		t.Errorf("unknown member: %v, %+v", err, s)
	}
}

// Marshal falls back to encoding/json where the fast path cannot encode.
func TestMarshalFallback(t *testing.T) {
	s := &specs.Spec{Hostname: "\xff", Windows: &specs.Windows{LayerFolders: []string{"c"}}}
	got, err := Marshal(s, AppendSpec)
	want, werr := json.Marshal(s)
	if string(got) != string(want) || (err == nil) != (werr == nil) {
		t.Fatalf("Marshal: %s, %v; encoding/json: %s, %v", got, err, want, werr)
	}
}

// FuzzSpec: whatever the fast path accepts, encoding/json accepts and
// decodes the same; the fast encoding of it reads back the same.
func FuzzSpec(f *testing.F) {
	b, _ := json.Marshal(specdefault.Example())
	f.Add(b)
	f.Add([]byte(`{"linux":{"resources":{"devices":[{"allow":false,"access":"rwm"}]},"namespaces":[{"type":"pid"}]}}`))
	f.Add([]byte(`{"process":{"args":null,"env":[],"user":{"uid":0,"gid":-0}},"annotations":{"a":"b"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var got specs.Spec
		if Fast(data, &got, ReadSpec) != nil {
			return
		}
		var want specs.Spec
		if err := json.Unmarshal(data, &want); err != nil {
			t.Fatalf("fast path took what encoding/json refuses (%v): %s", err, data)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("fast path %+v\nencoding/json %+v\nfrom %s", got, want, data)
		}
		// Its encoding reads back as encoding/json's would (omitempty
		// drops empty slices, so not always as got).
		enc, err := AppendSpec(nil, &got)
		if err != nil {
			return
		}
		std, _ := json.Marshal(&got)
		var back, stdBack specs.Spec
		json.Unmarshal(std, &stdBack)
		if err := json.Unmarshal(enc, &back); err != nil || !reflect.DeepEqual(back, stdBack) {
			t.Fatalf("fast encoding %s reads back as %+v (%v), encoding/json's %s as %+v", enc, back, err, std, stdBack)
		}
	})
}
