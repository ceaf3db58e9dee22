// Live cursors: send this pointer at most ~30 times a second, draw the
// others' cursors from the server's batches: "cursors" events, or the
// second argument of "circles" when a tick also had circles. Everything
// from the server goes on the page as textContent and style values only.
(function () {
  'use strict';

  var SEND_EVERY_MS = 33; // ~30 positions/s at most
  var IDLE_MS = 10000;    // fade a cursor that has not moved for this long (window.CURSOR_IDLE_MS overrides)

  window.startCursors = function (socket, layer) {
    var shown = {}; // id → {el, timer}
    var me = null;  // this page's public player id: its own cursor is not drawn
    socket.on('player-id', function (msg) { me = msg && msg.id; });
    var pending = null;
    var timer = null;

    function flush() {
      timer = null;
      if (pending && socket.connected) socket.emit('cursor', pending);
      pending = null;
    }

    window.addEventListener('pointermove', function (evt) {
      pending = { x: Math.max(0, Math.round(evt.clientX)), y: Math.max(0, Math.round(evt.clientY)) };
      if (!timer) timer = window.setTimeout(flush, SEND_EVERY_MS);
    });

    function place(c) {
      // Most entries are the compact [id, x, y]; initials and colour come
      // in full {id, initials, color, x, y} entries now and then.
      if (Array.isArray(c)) c = { id: c[0], x: c[1], y: c[2] };
      if (!c || typeof c.id !== 'string' || c.id === me) return;
      var entry = shown[c.id];
      if (!entry) {
        var el = document.createElement('div');
        el.className = 'cursor';
        el.dataset.id = c.id;
        var label = document.createElement('span');
        el.appendChild(label);
        layer.appendChild(el);
        el.style.setProperty('--cursor-color', '#333');
        entry = shown[c.id] = { el: el, label: label, timer: null, initials: '', color: '' };
      }
      // Initials and colour come when the server thinks a page may not
      // know them (first seen, about once a second) and are kept here.
      // Unknown ones draw unlabelled till then.
      if (typeof c.initials === 'string' && c.initials !== entry.initials) {
        entry.initials = c.initials;
        entry.label.textContent = c.initials;
      }
      if (typeof c.color === 'string' && c.color !== entry.color) {
        entry.color = c.color;
        entry.el.style.setProperty('--cursor-color', c.color);
      }
      entry.el.style.transform = 'translate(' + (Number(c.x) || 0) + 'px,' + (Number(c.y) || 0) + 'px)';
      entry.el.classList.remove('idle');
      window.clearTimeout(entry.timer);
      entry.timer = window.setTimeout(function () { entry.el.classList.add('idle'); }, window.CURSOR_IDLE_MS || IDLE_MS);
    }

    function remove(id) {
      var entry = shown[id];
      if (!entry) return;
      window.clearTimeout(entry.timer);
      entry.el.remove();
      delete shown[id];
    }

    function placeAll(list) {
      (Array.isArray(list) ? list : []).forEach(place);
    }
    socket.on('cursors', placeAll);
    // This page asks for batches: a tick's cursors ride with its circles.
    socket.on('circles', function (circles, cursors) { placeAll(cursors); });
    socket.on('cursor-leave', function (msg) {
      if (msg && typeof msg.id === 'string') remove(msg.id);
    });
    // After a reconnection that was not a recovery, the server has no
    // cursors from before: start clean rather than keep stale ones.
    socket.on('connect', function () {
      if (!socket.recovered) Object.keys(shown).forEach(remove);
    });
  };
})();
