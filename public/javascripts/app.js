// Realtime Circles: click to drop a circle on every screen.
// Data from the server is only ever put on the page with textContent and
// style properties, never innerHTML, so nothing a player sends runs as markup.
(function () {
  'use strict';

  var circles = document.getElementById('circles');
  var players = document.getElementById('players');
  var status = document.getElementById('status');
  var clearButton = document.querySelector('header button');

  // Prefer websocket (works behind load balancers without sticky sessions);
  // fall back to polling where websocket is blocked. A short connect timeout
  // lets a handshake that never completes retry quickly.
  // The board comes from the page (/b/<name>); the server reads it from
  // the handshake's auth. batch: true asks for each tick's new circles as
  // one 'circles' event instead of one 'add-circle' per click, which is
  // what lets a hall of a thousand pages keep up.
  var boardName = document.body.dataset.board || 'main';
  var socket = io({
    transports: ['websocket', 'polling'],
    timeout: 5000,
    reconnectionDelayMax: 3000,
    auth: { board: boardName, batch: true, presenceGrace: true }
  });

  // Initials are asked in the page, not with prompt(): a prompt blocks the
  // page before it has drawn (and hangs a headless screenshot). Kept for
  // the tab's life, so a reload plays on under the same initials.
  var initials = validInitials(window.sessionStorage.getItem('initials'));
  var joinForm = initials ? null : askInitials();

  function validInitials(v) {
    v = String(v || '').trim();
    return /^[A-Za-z0-9]{1,3}$/.test(v) ? v.toUpperCase() : '';
  }

  function askInitials() {
    var form = document.createElement('form');
    form.id = 'join';
    var label = document.createElement('label');
    label.textContent = 'Your initials ';
    var input = document.createElement('input');
    input.name = 'initials';
    input.maxLength = 3;
    input.required = true;
    input.pattern = '[A-Za-z0-9]{1,3}';
    input.autocomplete = 'off';
    input.title = '1–3 letters or digits';
    label.appendChild(input);
    var button = document.createElement('button');
    button.type = 'submit';
    button.textContent = 'Play';
    form.append(label, button);
    form.addEventListener('submit', function (evt) {
      evt.preventDefault();
      var value = validInitials(input.value);
      if (!value) return;
      initials = value;
      window.sessionStorage.setItem('initials', initials);
      form.remove();
      joinForm = null;
      if (socket.connected) socket.emit('register-player', initials);
    });
    document.body.appendChild(form);
    input.focus();
    return form;
  }

  socket.on('connect', function () {
    status.textContent = 'connected';
    // A recovered connection kept its player and got what it missed.
    // Otherwise register again: this also re-registers after a restart.
    if (!socket.recovered && initials) socket.emit('register-player', initials);
  });

  // Late joiners: the board's circles so far (also after a reconnection
  // that could not recover).
  socket.on('board', function (list) {
    clearBoard();
    (Array.isArray(list) ? list : []).forEach(addCircle);
  });

  // Leaving the page says goodbye, so the others see us go at once rather
  // than after the server's recovery window.
  window.addEventListener('pagehide', function () { socket.disconnect(); });
  window.addEventListener('pageshow', function (evt) {
    if (evt.persisted) socket.connect();
  });

  window.startCursors(socket, document.getElementById('cursors'));
  shareLink();

  socket.on('disconnect', function () {
    status.textContent = 'reconnecting…';
  });
  // A refused connection says why (e.g. the server is full, or the
  // board name is invalid); the client keeps retrying.
  socket.on('connect_error', function (err) {
    status.textContent = 'cannot connect: ' + (err && err.message);
  });

  socket.on('add-circle', addCircle);
  socket.on('circles', function (list) {
    (Array.isArray(list) ? list : []).forEach(addCircle);
  });

  // Students name the clear event differently; the server relays every name.
  ['clear', 'clear-display', 'clear-circles', 'clear-page', 'clearCircles', 'remove-circle']
    .forEach(function (name) { socket.on(name, clearBoard); });

  socket.on('update-player-list', function (list) {
    var items = (Array.isArray(list) ? list : []).map(function (p) {
      var li = document.createElement('li');
      li.textContent = String(p);
      return li;
    });
    players.replaceChildren.apply(players, items);
  });

  socket.on('error-message', function (msg) {
    status.textContent = 'server said: ' + (msg && msg.error);
  });

  circles.addEventListener('click', function (evt) {
    if (!initials) { // not playing yet: the form says how
      if (joinForm) joinForm.elements.initials.focus();
      return;
    }
    socket.emit('add-circle', {
      initials: initials,
      x: evt.clientX,
      y: evt.clientY,
      dia: randomBetween(20, 100), // big and opaque enough to see
      rgba: getRandomRGBA()
    });
  });

  clearButton.addEventListener('click', function () {
    socket.emit('clear');
  });

  function addCircle(c) {
    if (!c) return;
    var dia = Number(c.dia) || 0;
    var el = document.createElement('div');
    el.style.left = (Number(c.x) - Math.floor(dia / 2 + 0.5)) + 'px';
    el.style.top = (Number(c.y) - Math.floor(dia / 2 + 0.5)) + 'px';
    el.style.width = el.style.height = dia + 'px';
    el.style.backgroundColor = String(c.rgba);
    el.style.fontSize = Math.floor(dia / 3) + 'px';
    el.style.lineHeight = dia + 'px';
    el.textContent = String(c.initials || '');
    circles.appendChild(el);
  }

  function clearBoard() {
    circles.replaceChildren();
  }

  function shareLink() {
    var link = document.getElementById('share-link');
    var button = document.getElementById('copy-link');
    if (!link || !button) return;
    link.textContent = link.href; // absolute URL, as it would be shared
    button.addEventListener('click', function () {
      var done = function () { button.textContent = 'Copied'; };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(link.href).then(done, function () { selectLink(link); });
      } else {
        selectLink(link);
      }
    });
  }

  function selectLink(link) {
    var range = document.createRange();
    range.selectNodeContents(link);
    window.getSelection().removeAllRanges();
    window.getSelection().addRange(range);
  }

  function randomBetween(min, max) {
    return Math.floor(Math.random() * (max - min + 1) + min);
  }

  function getRandomRGBA() {
    return 'rgba(' + randomBetween(0, 255) + ',' + randomBetween(0, 255) + ',' +
      randomBetween(0, 255) + ',' + randomBetween(5, 10) / 10 + ')';
  }
})();
