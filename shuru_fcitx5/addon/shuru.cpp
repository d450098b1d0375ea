// Shuru's fcitx5 input method: a thin addon that forwards each input context's keys to
// one Shuru engine process (python -m shuru_fcitx5) over a Unix socket and draws its
// replies with fcitx5's own UI. The protocol is docs/FCITX5.md; the IME logic is Python.
//
// Every round trip is bounded (kReplyTimeout): fcitx5 is never blocked for long. While
// the engine process is not there, keys go to the application as typed and the panel
// says so; the process is started on demand and started again if it dies.

#include <dlfcn.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <fcitx-config/configuration.h>
#include <fcitx-config/option.h>
#include <fcitx-utils/event.h>
#include <fcitx-utils/log.h>
#include <fcitx-utils/misc.h>
#include <fcitx-utils/trackableobject.h>
#include <fcitx-utils/utf8.h>
#include <fcitx/addonfactory.h>
#include <fcitx/addoninstance.h>
#include <fcitx/addonmanager.h>
#include <fcitx/candidatelist.h>
#include <fcitx/event.h>
#include <fcitx/inputcontext.h>
#include <fcitx/inputcontextmanager.h>
#include <fcitx/inputcontextproperty.h>
#include <fcitx/inputmethodengine.h>
#include <fcitx/inputpanel.h>
#include <fcitx/instance.h>
#include <fcitx/text.h>
#include <fcitx/userinterface.h>
#include <nlohmann/json.hpp>

#ifndef SHURU_SERVER_COMMAND
#define SHURU_SERVER_COMMAND "shuru-fcitx5-server"
#endif

namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr int kProtocol = 1;                                // docs/FCITX5.md
constexpr auto kReplyTimeout = std::chrono::milliseconds(500);  // the longest a key may wait
constexpr auto kRespawnInterval = std::chrono::seconds(5);      // between two starts of the engine
constexpr auto kStartWait = std::chrono::seconds(20);           // how long a started engine is waited for
constexpr uint64_t kRetryUs = 100'000;                          // how often it is looked for meanwhile
constexpr auto kRefusedWait = std::chrono::seconds(30);         // after a protocol mismatch (an old engine ends)
constexpr auto kHungWait = std::chrono::seconds(5);             // after a reply that did not come: keys go at once
constexpr size_t kMaxLine = 1 << 20;                            // a reply longer than this: a broken peer
constexpr size_t kMaxBefore = 4096;                             // surrounding text sent (bytes, cut at a character)
constexpr char kStarting[] = "Shuru is starting: keys go to the application as typed";
constexpr char kNotAnswering[] = "Shuru's engine is not answering: keys go to the application as typed";

FCITX_DEFINE_LOG_CATEGORY(shuru_log, "shuru");
#define SHURU_WARN() FCITX_LOGC(shuru_log, Warn)
#define SHURU_INFO() FCITX_LOGC(shuru_log, Info)
#define SHURU_DEBUG() FCITX_LOGC(shuru_log, Debug)

/// $XDG_RUNTIME_DIR/shuru/fcitx5.sock, else /tmp/shuru-<uid>/fcitx5.sock (as the server).
std::string socketPath() {
    const char *runtime = std::getenv("XDG_RUNTIME_DIR");
    std::string folder = (runtime && *runtime) ? std::string(runtime) + "/shuru"
                                               : "/tmp/shuru-" + std::to_string(getuid());
    return folder + "/fcitx5.sock";
}

/// The folder this addon's shared library was loaded from.
std::string addonFolder() {
    Dl_info info;
    if (dladdr(reinterpret_cast<void *>(&addonFolder), &info) && info.dli_fname) {
        std::string path = info.dli_fname;
        auto slash = path.rfind('/');
        if (slash != std::string::npos) {
            return path.substr(0, slash);
        }
    }
    return {};
}

/// The engine process's argv: $SHURU_FCITX5_SERVER (a shell command), else the
/// shuru-fcitx5-server beside this library (a user install), else the built-in default.
std::vector<std::string> serverCommand() {
    if (const char *command = std::getenv("SHURU_FCITX5_SERVER"); command && *command) {
        return {"/bin/sh", "-c", std::string("exec ") + command + " \"$@\"", "shuru-fcitx5-server"};
    }
    std::string beside = addonFolder() + "/shuru-fcitx5-server";
    if (access(beside.c_str(), X_OK) == 0) {
        return {beside};
    }
    return {SHURU_SERVER_COMMAND};
}

/// ``arg`` quoted for a POSIX shell.
std::string shellQuote(const std::string &arg) {
    std::string quoted = "'";
    for (char c : arg) {
        quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    }
    return quoted + "'";
}

/// The command that opens Shuru's settings (fcitx5's configuration tools run it).
std::string settingsCommand() {
    std::string command;
    for (const auto &arg : serverCommand()) {
        command += (command.empty() ? "" : " ") + shellQuote(arg);
    }
    return command + " --settings";
}

/// Keep the last kMaxBefore bytes of ``text``, starting at a character boundary.
std::string tail(const std::string &text) {
    if (text.size() <= kMaxBefore) {
        return text;
    }
    size_t start = text.size() - kMaxBefore;
    while (start < text.size() && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) {
        ++start;
    }
    return text.substr(start);
}

/// ``message[key]`` if ``message`` is an object holding a string there, else ``fallback``.
std::string text(const json &message, const char *key, const std::string &fallback = {}) {
    if (message.is_object()) {
        auto found = message.find(key);
        if (found != message.end() && found->is_string()) {
            return found->get<std::string>();
        }
    }
    return fallback;
}

/// ``message[key]`` as an integer, else ``fallback``.
int integer(const json &message, const char *key, int fallback) {
    if (message.is_object()) {
        auto found = message.find(key);
        if (found != message.end() && found->is_number_integer()) {
            return found->get<int>();
        }
    }
    return fallback;
}

/// ``message[key]`` as a bool, else ``fallback``.
bool flag(const json &message, const char *key, bool fallback) {
    if (message.is_object()) {
        auto found = message.find(key);
        if (found != message.end() && found->is_boolean()) {
            return found->get<bool>();
        }
    }
    return fallback;
}

/// ``message[key]`` if it is an array, else an empty one.
json array(const json &message, const char *key) {
    if (message.is_object()) {
        auto found = message.find(key);
        if (found != message.end() && found->is_array()) {
            return *found;
        }
    }
    return json::array();
}

/// One connection to the engine process: JSON lines over a Unix stream socket.
class Connection {
public:
    ~Connection() { close(); }

    bool connected() const { return fd_ >= 0; }
    int fd() const { return fd_; }

    /// Connect to ``path``; false (and nothing held) when no server listens there.
    bool open(const std::string &path) {
        close();
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0) {
            return false;
        }
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        if (path.size() >= sizeof(addr.sun_path)) {
            ::close(fd);
            return false;
        }
        std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
        if (::connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) != 0) {
            ::close(fd);
            return false;
        }
        fd_ = fd;
        buffer_.clear();
        return true;
    }

    void close() {
        if (fd_ >= 0) {
            ::close(fd_);
        }
        fd_ = -1;
        buffer_.clear();
    }

    /// Send one message; false when the peer is gone or does not read before ``deadline``.
    bool send(const json &message, Clock::time_point deadline) {
        std::string line = message.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
        size_t sent = 0;
        while (sent < line.size()) {
            ssize_t n = ::send(fd_, line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
            if (n > 0) {
                sent += n;
            } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
                if (!wait(POLLOUT, deadline)) {
                    return false;
                }
            } else {
                return false;
            }
        }
        return true;
    }

    /// The next whole line, waiting until ``deadline``; nullopt on timeout, EOF or error
    /// (``closed`` says which).
    std::optional<std::string> readLine(Clock::time_point deadline, bool *closed) {
        *closed = false;
        while (true) {
            if (auto line = takeLine()) {
                return line;
            }
            if (buffer_.size() > kMaxLine) {
                *closed = true;
                return std::nullopt;
            }
            char chunk[8192];
            ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
            if (n > 0) {
                buffer_.append(chunk, n);
                continue;
            }
            if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
                *closed = true;
                return std::nullopt;
            }
            if (!wait(POLLIN, deadline)) {
                return std::nullopt;
            }
        }
    }

private:
    std::optional<std::string> takeLine() {
        auto end = buffer_.find('\n');
        if (end == std::string::npos) {
            return std::nullopt;
        }
        std::string line = buffer_.substr(0, end);
        buffer_.erase(0, end + 1);
        return line;
    }

    bool wait(short events, Clock::time_point deadline) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (left <= 0) {
            return false;
        }
        pollfd p{fd_, events, 0};
        int r = ::poll(&p, 1, static_cast<int>(left));
        return r > 0 || (r < 0 && errno == EINTR);
    }

    int fd_ = -1;
    std::string buffer_;
};

FCITX_CONFIGURATION(ShuruConfig,
                    fcitx::ExternalOption settings{this, "Settings", "Shuru settings", settingsCommand()};);

class ShuruEngine;

/// Per input context: the id the server knows it by, and what it shows.
class ShuruState : public fcitx::InputContextProperty {
public:
    ShuruState(ShuruEngine *engine, fcitx::InputContext &ic);
    ~ShuruState() override;

    ShuruEngine *engine;
    int id;
    std::string preedit;   // the preedit shown (committed if the context loses the focus)
    bool chinese = true;   // the mode the server last reported
    bool known = false;    // the server has seen this context on the current connection
};

class ShuruEngine final : public fcitx::InputMethodEngineV2 {
public:
    explicit ShuruEngine(fcitx::Instance *instance);
    ~ShuruEngine() override;

    void keyEvent(const fcitx::InputMethodEntry &, fcitx::KeyEvent &event) override;
    void activate(const fcitx::InputMethodEntry &, fcitx::InputContextEvent &event) override;
    void deactivate(const fcitx::InputMethodEntry &, fcitx::InputContextEvent &event) override;
    void reset(const fcitx::InputMethodEntry &, fcitx::InputContextEvent &event) override;
    std::string subModeLabelImpl(const fcitx::InputMethodEntry &, fcitx::InputContext &ic) override;
    const fcitx::Configuration *getConfig() const override { return &config_; }

    /// A candidate clicked in the panel (``index`` on the page shown).
    void select(fcitx::InputContext *ic, int index);
    /// A page button of the panel.
    void page(fcitx::InputContext *ic, bool down);
    /// The context is gone: tell the server.
    void forget(ShuruState *state);
    /// A new context's id, the context followed by it (for the engine's updates).
    int track(fcitx::InputContext &ic) {
        contexts_.emplace(++lastId_, ic.watch());
        return lastId_;
    }

private:
    ShuruState *state(fcitx::InputContext *ic) { return ic->propertyFor(&factory_); }
    bool ensureConnected();
    bool connectNow();
    void spawnServer();
    void retryConnect(fcitx::EventSourceTime *source);
    void resumeFocused();
    void disconnected(const char *why);
    std::optional<json> request(fcitx::InputContext *ic, json message);
    void sendSurrounding(fcitx::InputContext *ic);
    void onReadable();
    void handleMessage(const json &message);
    void apply(fcitx::InputContext *ic, const json &actions);
    void clearPanel(fcitx::InputContext *ic);
    void say(fcitx::InputContext *ic, const std::string &text);

    fcitx::Instance *instance_;
    ShuruConfig config_;
    Connection connection_;
    std::unique_ptr<fcitx::EventSourceIO> socketWatch_;
    std::unique_ptr<fcitx::EventSourceTime> retry_;  // looks for a just-started engine
    Clock::time_point retryUntil_;
    std::vector<std::unique_ptr<fcitx::HandlerTableEntry<fcitx::EventHandler>>> watchers_;
    std::unordered_map<int, fcitx::TrackableObjectReference<fcitx::InputContext>> contexts_;
    std::string engineState_;  // "loading", "ready", "failed"; empty while not connected
    std::string refused_;      // a protocol mismatch: said, and not retried for kRefusedWait
    Clock::time_point refusedAt_;
    std::optional<Clock::time_point> hungUntil_;  // the engine did not answer: not asked again until then
    std::optional<Clock::time_point> lastSpawn_;
    int lastId_ = 0;
    // last: destroyed first, so the contexts' states go while the members they use still live
    fcitx::FactoryFor<ShuruState> factory_;
};

ShuruState::ShuruState(ShuruEngine *engine, fcitx::InputContext &ic)
    : engine(engine), id(engine->track(ic)) {}

ShuruState::~ShuruState() { engine->forget(this); }

/// One candidate of the page shown; selecting it asks the server.
class ShuruCandidate : public fcitx::CandidateWord {
public:
    ShuruCandidate(ShuruEngine *engine, int index, const std::string &text)
        : fcitx::CandidateWord(fcitx::Text(text)), engine_(engine), index_(index) {}
    void select(fcitx::InputContext *ic) const override { engine_->select(ic, index_); }

private:
    ShuruEngine *engine_;
    int index_;
};

/// The page of candidates the server says is shown; its page buttons ask the server.
class ShuruCandidateList : public fcitx::CandidateList, public fcitx::PageableCandidateList {
public:
    ShuruCandidateList(ShuruEngine *engine, fcitx::InputContext *ic, const json &candidates)
        : engine_(engine), ic_(ic) {
        setPageable(this);
        json texts = array(candidates, "texts");
        int pageSize = std::max(1, integer(candidates, "page_size", 5));
        int cursor = integer(candidates, "cursor", -1);
        page_ = cursor >= 0 ? cursor / pageSize : 0;
        cursor_ = cursor >= 0 ? cursor % pageSize : -1;
        int first = page_ * pageSize;
        for (int i = first; i < static_cast<int>(texts.size()) && i < first + pageSize; ++i) {
            labels_.emplace_back(std::to_string(i - first + 1) + ". ");
            words_.push_back(std::make_unique<ShuruCandidate>(
                engine, i - first, texts[i].is_string() ? texts[i].get<std::string>() : std::string()));
        }
        hasNext_ = static_cast<int>(texts.size()) > first + pageSize;
    }

    const fcitx::Text &label(int idx) const override { return labels_.at(idx); }
    const fcitx::CandidateWord &candidate(int idx) const override { return *words_.at(idx); }
    int size() const override { return static_cast<int>(words_.size()); }
    int cursorIndex() const override { return cursor_; }
    fcitx::CandidateLayoutHint layoutHint() const override { return fcitx::CandidateLayoutHint::NotSet; }
    bool hasPrev() const override { return page_ > 0; }
    bool hasNext() const override { return hasNext_; }
    void prev() override { engine_->page(ic_, false); }
    void next() override { engine_->page(ic_, true); }
    bool usedNextBefore() const override { return true; }

private:
    ShuruEngine *engine_;
    fcitx::InputContext *ic_;
    std::vector<fcitx::Text> labels_;
    std::vector<std::unique_ptr<ShuruCandidate>> words_;
    int page_ = 0;
    int cursor_ = -1;
    bool hasNext_ = false;
};

ShuruEngine::ShuruEngine(fcitx::Instance *instance)
    : instance_(instance), factory_([this](fcitx::InputContext &ic) { return new ShuruState(this, ic); }) {
    instance_->inputContextManager().registerProperty("shuruState", &factory_);
    // the text around the caret changed, or the application now says it reports it (GTK does so late)
    for (auto type : {fcitx::EventType::InputContextSurroundingTextUpdated,
                      fcitx::EventType::InputContextCapabilityChanged}) {
        watchers_.emplace_back(instance_->watchEvent(
            type, fcitx::EventWatcherPhase::PostInputMethod, [this](fcitx::Event &event) {
                auto *ic = static_cast<fcitx::InputContextEvent &>(event).inputContext();
                if (ic->hasFocus() && instance_->inputMethodEngine(ic) == this && state(ic)->preedit.empty()) {
                    sendSurrounding(ic);
                }
            }));
    }
}

ShuruEngine::~ShuruEngine() {
    watchers_.clear();
    retry_.reset();
    socketWatch_.reset();
    connection_.close();  // the server drops this connection's contexts
    contexts_.clear();
}

void ShuruEngine::forget(ShuruState *s) {
    contexts_.erase(s->id);
    if (s->known && connection_.connected()) {
        connection_.send(json{{"type", "destroy"}, {"ic", s->id}}, Clock::now() + kReplyTimeout);
        // its reply is read (and ignored) with the next message that waits
    }
}

bool ShuruEngine::ensureConnected() {
    if (connectNow()) {
        return true;
    }
    if (refused_.empty() && !(hungUntil_ && Clock::now() < *hungUntil_)) {
        spawnServer();
    }
    return false;
}

/// Connect and say hello, without starting anything; true when connected.
bool ShuruEngine::connectNow() {
    if (connection_.connected()) {
        return true;
    }
    if (!refused_.empty()) {
        if (Clock::now() - refusedAt_ < kRefusedWait) {
            return false;
        }
        refused_.clear();  // the old engine process may have ended by now: try again
    }
    if (hungUntil_ && Clock::now() < *hungUntil_) {
        return false;  // it did not answer a moment ago: keys go to the application without waiting
    }
    socketWatch_.reset();
    if (!connection_.open(socketPath())) {
        return false;
    }
    auto deadline = Clock::now() + kReplyTimeout;
    bool closed = false;
    std::optional<std::string> line;
    if (connection_.send(json{{"type", "hello"}, {"protocol", kProtocol}}, deadline)) {
        line = connection_.readLine(deadline, &closed);
    }
    json hello = line ? json::parse(*line, nullptr, false) : json();
    if (text(hello, "type") != "hello") {
        if (text(hello, "type") == "error") {
            refused_ = text(hello, "message", "the Shuru engine refused this addon");
            refusedAt_ = Clock::now();
            SHURU_WARN() << refused_;
        }
        connection_.close();
        return false;
    }
    engineState_ = text(hello, "engine", "loading");
    for (auto &[id, ref] : contexts_) {
        if (auto *ic = ref.get()) {
            state(ic)->known = false;
        }
    }
    socketWatch_ = instance_->eventLoop().addIOEvent(
        connection_.fd(), fcitx::IOEventFlag::In,
        [this](fcitx::EventSourceIO *, int, fcitx::IOEventFlags) {
            onReadable();
            return true;
        });
    SHURU_INFO() << "connected to the Shuru engine (" << text(hello, "server", "?") << ", " << engineState_ << ")";
    return true;
}

/// Start the engine process (at most every kRespawnInterval), and look for it until it answers.
void ShuruEngine::spawnServer() {
    auto now = Clock::now();
    if (!lastSpawn_ || now - *lastSpawn_ >= kRespawnInterval) {
        lastSpawn_ = now;
        retryUntil_ = now + kStartWait;
        auto argv = serverCommand();
        SHURU_INFO() << "starting the Shuru engine: " << argv.back();
        fcitx::startProcess(argv);
    }
    if (!retry_) {
        retry_ = instance_->eventLoop().addTimeEvent(
            CLOCK_MONOTONIC, fcitx::now(CLOCK_MONOTONIC) + kRetryUs, 0,
            [this](fcitx::EventSourceTime *source, uint64_t) {
                retryConnect(source);
                return true;
            });
    } else {
        retry_->setNextInterval(kRetryUs);
        retry_->setOneShot();
    }
}

void ShuruEngine::retryConnect(fcitx::EventSourceTime *source) {
    if (connectNow()) {
        resumeFocused();
        return;
    }
    if (Clock::now() >= retryUntil_ || !refused_.empty()) {
        SHURU_WARN() << "the Shuru engine did not start: keys go to applications as typed";
        return;
    }
    if (Clock::now() - *lastSpawn_ >= kRespawnInterval) {
        spawnServer();  // the last one died before it listened (or is very slow): once more
        return;
    }
    source->setNextInterval(kRetryUs);
    source->setOneShot();
}

/// The engine is there (again): the focused context, if it types with Shuru, is told so.
void ShuruEngine::resumeFocused() {
    auto *ic = instance_->mostRecentInputContext();
    if (!ic || !ic->hasFocus() || instance_->inputMethodEngine(ic) != this) {
        return;
    }
    ic->inputPanel().setAuxUp(fcitx::Text());
    ic->updateUserInterface(fcitx::UserInterfaceComponent::InputPanel);
    if (auto reply = request(ic, json{{"type", "focus_in"}})) {
        apply(ic, array(*reply, "actions"));
        sendSurrounding(ic);
    }
}

void ShuruEngine::disconnected(const char *why) {
    SHURU_WARN() << "the Shuru engine connection ended: " << why;
    if (socketWatch_) {
        socketWatch_->setEnabled(false);  // deleted at the next connect, never inside its callback
    }
    connection_.close();
    engineState_.clear();
    for (auto &[id, ref] : contexts_) {
        if (auto *ic = ref.get()) {
            state(ic)->known = false;
            if (!state(ic)->preedit.empty()) {
                clearPanel(ic);
            }
        }
    }
    if (!hungUntil_ || Clock::now() >= *hungUntil_) {
        spawnServer();  // a hung one still holds the socket: not now
    }
}

std::optional<json> ShuruEngine::request(fcitx::InputContext *ic, json message) {
    if (!ensureConnected()) {
        return std::nullopt;
    }
    auto *s = state(ic);
    message["ic"] = s->id;
    SHURU_DEBUG() << "-> " << text(message, "type") << " ic " << s->id;
    auto deadline = Clock::now() + kReplyTimeout;
    if (!connection_.send(message, deadline)) {
        disconnected("could not send");
        return std::nullopt;
    }
    s->known = true;
    while (true) {
        bool closed = false;
        auto line = connection_.readLine(deadline, &closed);
        if (!line) {
            if (!closed) {
                hungUntil_ = Clock::now() + kHungWait;
            }
            disconnected(closed ? "the engine process closed the connection" : "no reply in time");
            return std::nullopt;
        }
        json reply = json::parse(*line, nullptr, false);
        std::string type = text(reply, "type");
        if (type == "reply" && integer(reply, "ic", -1) == s->id) {
            return reply;
        }
        if (type == "error") {
            SHURU_WARN() << "the Shuru engine: " << text(reply, "message");
            return std::nullopt;
        }
        handleMessage(reply);  // status, update, or the reply to a destroy
    }
}

void ShuruEngine::onReadable() {
    while (connection_.connected()) {
        bool closed = false;
        auto line = connection_.readLine(Clock::now(), &closed);
        if (!line) {
            if (closed) {
                disconnected("the engine process closed the connection");
            }
            return;
        }
        json message = json::parse(*line, nullptr, false);
        if (message.is_object()) {
            handleMessage(message);
        }
    }
}

void ShuruEngine::handleMessage(const json &message) {
    std::string type = text(message, "type");
    if (type == "status") {
        engineState_ = text(message, "engine", engineState_);
        if (engineState_ == "failed") {
            SHURU_WARN() << "the Shuru engine could not load: " << text(message, "message");
        }
    } else if (type == "update") {
        auto found = contexts_.find(integer(message, "ic", -1));
        if (found != contexts_.end()) {
            if (auto *ic = found->second.get()) {
                apply(ic, array(message, "actions"));
            }
        }
    }
}

void ShuruEngine::apply(fcitx::InputContext *ic, const json &actions) {
    if (!actions.is_array()) {
        return;
    }
    auto *s = state(ic);
    auto &panel = ic->inputPanel();
    bool clientPreedit = ic->capabilityFlags().test(fcitx::CapabilityFlag::Preedit);
    for (const auto &action : actions) {
        if (!action.is_object()) {
            continue;
        }
        std::string type = text(action, "type");
        try {
            if (type == "commit") {
                ic->commitString(action.at("text").get<std::string>());
            } else if (type == "preedit") {
                s->preedit = action.at("text").get<std::string>();
                int size = static_cast<int>(s->preedit.size());
                fcitx::Text shown;
                shown.append(s->preedit, fcitx::TextFormatFlag::Underline);
                shown.setCursor(std::clamp(integer(action, "cursor_utf8", size), 0, size));
                if (clientPreedit) {
                    panel.setClientPreedit(shown);
                } else {
                    panel.setPreedit(shown);
                }
                panel.setAuxUp(fcitx::Text());
            } else if (type == "preedit_hide") {
                s->preedit.clear();
                panel.setClientPreedit(fcitx::Text());
                panel.setPreedit(fcitx::Text());
            } else if (type == "candidates") {
                panel.setCandidateList(std::make_unique<ShuruCandidateList>(this, ic, action));
            } else if (type == "candidates_hide") {
                panel.setCandidateList(nullptr);
            } else if (type == "modes") {
                s->chinese = flag(action, "chinese", true);
                ic->updateUserInterface(fcitx::UserInterfaceComponent::StatusArea);
            } else if (type == "problem") {
                say(ic, text(action, "text"));
            }
        } catch (const json::exception &e) {
            SHURU_WARN() << "a malformed " << type << " from the Shuru engine: " << e.what();
        }
    }
    ic->updatePreedit();
    ic->updateUserInterface(fcitx::UserInterfaceComponent::InputPanel);
}

void ShuruEngine::clearPanel(fcitx::InputContext *ic) {
    state(ic)->preedit.clear();
    ic->inputPanel().reset();
    ic->updatePreedit();
    ic->updateUserInterface(fcitx::UserInterfaceComponent::InputPanel);
}

void ShuruEngine::say(fcitx::InputContext *ic, const std::string &text) {
    ic->inputPanel().setAuxUp(fcitx::Text(text));
    ic->updateUserInterface(fcitx::UserInterfaceComponent::InputPanel);
}

void ShuruEngine::sendSurrounding(fcitx::InputContext *ic) {
    const auto &caps = ic->capabilityFlags();
    std::string before;
    if (caps.test(fcitx::CapabilityFlag::Password) || caps.test(fcitx::CapabilityFlag::Sensitive)) {
        before.clear();  // a password field: no context at all
    } else if (ic->surroundingText().isValid()) {
        const auto &surrounding = ic->surroundingText();
        const auto &all = surrounding.text();
        size_t chars = std::min<size_t>(surrounding.cursor(), fcitx::utf8::length(all));
        before = tail(all.substr(0, fcitx::utf8::ncharByteLength(all.begin(), chars)));
    } else {
        SHURU_DEBUG() << "no surrounding text (capability " << caps.test(fcitx::CapabilityFlag::SurroundingText) << ")";
        return;  // no surrounding text: the engine keeps what it committed in this field
    }
    SHURU_DEBUG() << "surrounding text: " << before.size() << " bytes before the caret";
    if (auto reply = request(ic, json{{"type", "surrounding"}, {"before", before}})) {
        apply(ic, array(*reply, "actions"));
    }
}

void ShuruEngine::keyEvent(const fcitx::InputMethodEntry &, fcitx::KeyEvent &event) {
    auto *ic = event.inputContext();
    const auto &key = event.rawKey();
    auto reply = request(ic, json{{"type", "key"},
                                  {"keysym", static_cast<uint32_t>(key.sym())},
                                  {"state", static_cast<uint32_t>(key.states())},
                                  {"release", event.isRelease()}});
    if (!reply) {
        if (!event.isRelease()) {
            bool hung = hungUntil_ && Clock::now() < *hungUntil_;
            say(ic, !refused_.empty() ? refused_ : hung ? kNotAnswering : kStarting);
        }
        return;  // not handled: the application gets the key as typed
    }
    apply(ic, array(*reply, "actions"));
    if (flag(*reply, "handled", false)) {
        event.filterAndAccept();
    }
}

void ShuruEngine::activate(const fcitx::InputMethodEntry &, fcitx::InputContextEvent &event) {
    auto *ic = event.inputContext();
    if (auto reply = request(ic, json{{"type", "focus_in"}})) {
        apply(ic, array(*reply, "actions"));
        sendSurrounding(ic);
    }
}

void ShuruEngine::deactivate(const fcitx::InputMethodEntry &, fcitx::InputContextEvent &event) {
    auto *ic = event.inputContext();
    auto *s = state(ic);
    if (!s->preedit.empty()) {
        ic->commitString(s->preedit);  // as under IBus: what was shown stays in the application
    }
    if (connection_.connected() && s->known) {
        request(ic, json{{"type", "focus_out"}});
    }
    clearPanel(ic);
}

void ShuruEngine::reset(const fcitx::InputMethodEntry &, fcitx::InputContextEvent &event) {
    auto *ic = event.inputContext();
    if (connection_.connected() && state(ic)->known) {
        if (auto reply = request(ic, json{{"type", "reset"}})) {
            apply(ic, array(*reply, "actions"));
        }
    }
    clearPanel(ic);
}

void ShuruEngine::select(fcitx::InputContext *ic, int index) {
    if (auto reply = request(ic, json{{"type", "select"}, {"index", index}})) {
        apply(ic, array(*reply, "actions"));
    }
}

void ShuruEngine::page(fcitx::InputContext *ic, bool down) {
    if (auto reply = request(ic, json{{"type", "page"}, {"direction", down ? "down" : "up"}})) {
        apply(ic, array(*reply, "actions"));
    }
}

std::string ShuruEngine::subModeLabelImpl(const fcitx::InputMethodEntry &, fcitx::InputContext &ic) {
    return state(&ic)->chinese ? "中" : "英";
}

class ShuruFactory : public fcitx::AddonFactory {
public:
    fcitx::AddonInstance *create(fcitx::AddonManager *manager) override {
        return new ShuruEngine(manager->instance());
    }
};

}  // namespace

FCITX_ADDON_FACTORY(ShuruFactory);
