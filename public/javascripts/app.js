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
  var socket = io({
    transports: ['websocket', 'polling'],
    timeout: 5000,
    reconnectionDelayMax: 3000
  });

  var initials = askInitials();

  function askInitials() {
    var stored = window.sessionStorage.getItem('initials');
    var value = stored;
    while (!/^[A-Za-z0-9]{1,3}$/.test(value || '')) {
      value = window.prompt('Please enter your initials (1–3 letters or digits)');
      if (value === null) value = 'ANO'.slice(0, 3); // cancelled: play anonymously
      value = value.trim();
    }
    value = value.toUpperCase();
    window.sessionStorage.setItem('initials', value);
    return value;
  }

  socket.on('connect', function () {
    status.textContent = 'connected';
    // Registering on every connect also re-registers after a server restart.
    socket.emit('register-player', initials);
  });

  socket.on('disconnect', function () {
    status.textContent = 'reconnecting…';
  });

  socket.on('add-circle', addCircle);

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
    socket.emit('add-circle', {
      initials: initials,
      x: evt.clientX,
      y: evt.clientY,
      dia: randomBetween(10, 100),
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

  function randomBetween(min, max) {
    return Math.floor(Math.random() * (max - min + 1) + min);
  }

  function getRandomRGBA() {
    return 'rgba(' + randomBetween(0, 255) + ',' + randomBetween(0, 255) + ',' +
      randomBetween(0, 255) + ',' + randomBetween(2, 10) / 10 + ')';
  }
})();
