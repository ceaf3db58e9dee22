package realtime

import "testing"

func TestEventName(t *testing.T) {
	for _, tc := range []struct {
		packet string
		want   string // "<nil>" for packets that are not events
	}{
		{`2["add-circle",{"x":1}]`, "add-circle"},
		{`2/admin,12["clear"]`, "clear"},
		{`27["board",[]]`, "board"},
		{`2["we\"ird"]`, ""},
		{`2[1,2]`, ""},
		{`2["unterminated`, ""},
		{`2`, ""},
		{`0{"sid":"x"}`, "<nil>"},
		{`3["ack"]`, "<nil>"},
		{``, "<nil>"},
	} {
		got := eventName([]byte(tc.packet))
		s := string(got)
		if got == nil {
			s = "<nil>"
		}
		if s != tc.want {
			t.Errorf("eventName(%q) = %q, want %q", tc.packet, s, tc.want)
		}
	}
}
