// The lesson's relay on socket.io 4.8, the reference the Go server is
// measured against (bench/README.md). PORT from the environment.
const http = require("http");
const { Server } = require("socket.io");

const server = http.createServer((req, res) => {
  res.writeHead(200, { "Content-Type": "text/plain" });
  res.end("ok\n");
});
const io = new Server(server, { maxHttpBufferSize: 16 * 1024 });

const players = new Map(); // socket id -> initials

io.on("connection", (socket) => {
  socket.on("register-player", (initials) => {
    players.set(socket.id, String(initials));
    io.emit("update-player-list", [...players.values()]);
  });
  socket.on("add-circle", (circle) => {
    io.emit("add-circle", circle);
  });
  socket.on("clear-display", () => {
    io.emit("clear-display");
  });
  socket.on("disconnect", () => {
    if (players.delete(socket.id)) {
      io.emit("update-player-list", [...players.values()]);
    }
  });
});

const port = Number(process.env.PORT || 3000);
server.listen(port, "127.0.0.1", () => {
  console.log(`node reference listening on ${port}`);
});
