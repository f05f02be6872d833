package cgroups

import (
	"reflect"
	"testing"
)

func TestPageSizeName(t *testing.T) {
	for in, want := range map[string]string{
		"hugepages-2048kB": "2MB", "hugepages-1048576kB": "1GB", "hugepages-64kB": "64KB", "hugepages-32768kB": "32MB",
		"hugepages-1536kB": "1536KB", "hugepages-x": "", "other": "", "hugepages-0kB": "",
	} {
		got, ok := pageSizeName(in)
		if got != want || ok != (want != "") {
			t.Errorf("pageSizeName(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}

func TestParseKeyValues(t *testing.T) {
	got, err := parseKeyValues("nr_periods 1\nthrottled_time 22\n\nsched_relax_domain_level -1\n", "x")
	if err != nil || !reflect.DeepEqual(got, map[string]uint64{"nr_periods": 1, "throttled_time": 22}) {
		t.Fatalf("parseKeyValues = %v, %v", got, err)
	}
	for _, bad := range []string{"a 1 2", "a x"} {
		if _, err := parseKeyValues(bad, "x"); err == nil {
			t.Errorf("parseKeyValues(%q) accepted", bad)
		}
	}
}

func TestParseBlkioV1(t *testing.T) {
	got, err := parseBlkioV1("8:0 Read 10\n8:0 Write 20\n8:0 Total 30\nTotal 30\n", "x")
	want := []BlkioEntry{{8, 0, "Read", 10}, {8, 0, "Write", 20}, {8, 0, "Total", 30}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("parseBlkioV1 = %v, %v", got, err)
	}
	if _, err := parseBlkioV1("8-0 Read 1\n", "x"); err == nil {
		t.Error("bad device accepted")
	}
}

func TestParseIOStat(t *testing.T) {
	got, err := parseIOStat("254:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=5 dios=6 cost.usage=7\n8:16 rbytes=9\n", "x")
	if err != nil {
		t.Fatal(err)
	}
	want := BlkioStats{
		IoServiceBytesRecursive: []BlkioEntry{{254, 0, "Read", 1}, {254, 0, "Write", 2}, {254, 0, "Discard", 5}, {8, 16, "Read", 9}},
		IoServicedRecursive:     []BlkioEntry{{254, 0, "Read", 3}, {254, 0, "Write", 4}, {254, 0, "Discard", 6}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("parseIOStat = %+v\nwant %+v", got, want)
	}
}
