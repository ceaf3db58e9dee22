// The plain WebSocket cursor demo: send {x, y} on every mouse move; draw a
// circle, in the sender's colour, where each sender's pointer is.
(function () {
  'use strict';

  var status = document.getElementById('status');
  var dots = {}; // sender → element
  var proto = location.protocol === 'https:' ? 'wss://' : 'ws://';
  var ws = new WebSocket(proto + location.host + '/ws');

  ws.onopen = function () { status.textContent = 'connected'; };
  ws.onclose = function (evt) {
    status.textContent = 'closed' + (evt.reason ? ': ' + evt.reason : '') + ' (' + evt.code + ')';
  };

  ws.onmessage = function (evt) {
    var msg;
    try { msg = JSON.parse(evt.data); } catch (e) { return; }
    if (!msg || typeof msg.sender !== 'string') return;
    var dot = dots[msg.sender];
    if (!dot) {
      dot = dots[msg.sender] = document.createElement('div');
      dot.className = 'dot';
      dot.dataset.sender = msg.sender;
      document.body.appendChild(dot);
    }
    dot.style.backgroundColor = 'hsl(' + (Number(msg.color) || 0) + ', 80%, 50%)';
    dot.style.left = (Number(msg.x) || 0) + 'px';
    dot.style.top = (Number(msg.y) || 0) + 'px';
  };

  document.addEventListener('mousemove', function (evt) {
    if (ws.readyState === WebSocket.OPEN) {
      ws.send(JSON.stringify({ x: evt.clientX, y: evt.clientY }));
    }
  });
})();
