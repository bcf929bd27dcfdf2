"""Note text in ten languages and scripts for the `real` bench vault (bench/realvault.py).

A documentation vault is written in several languages, so its bytes are not ASCII: Cyrillic,
Greek, Arabic and Devanagari take two or three bytes a character, CJK three, and CJK and
Japanese put no spaces between words. Code that confuses characters with bytes, or that
is fast only on English, shows here. Each language has a small vocabulary of documentation
words; sentences are made once per language and notes pick from them, so 6,000 notes take
a few seconds. Everything comes from the `random.Random` passed in.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

COMPOUNDS = 400
SENTENCES = 2000  # per language; with COMPOUNDS, notes compress about as real prose (zlib: ~0.27)


@dataclass(frozen=True)
class Language:
    code: str
    folder: str  # the language's own name: the vault's top-level folder
    share: int  # percent of the notes
    words: tuple[str, ...]
    sep: str = " "  # between words ("" for Chinese and Japanese)
    ends: str = "...?!"  # sentence ends, drawn uniformly
    cased: bool = True  # capitalise the first letter of a sentence


def _lang(code: str, folder: str, share: int, words: str, sep: str = " ", ends: str = "...?!", cased: bool = True) -> Language:
    """A vocabulary of 50-odd words and 400 compounds of two of them (front of one, back of the
    other): with only the words, text would compress far better than real prose does."""
    base = [unicodedata.normalize("NFC", w) for w in words.split()]
    r = random.Random(f"words:{code}")
    compounds = [a[: len(a) // 2 + 1] + b[len(b) // 2 :] for a, b in (r.sample(base, 2) for _ in range(COMPOUNDS))]
    vocab = dict.fromkeys(base + [unicodedata.normalize("NFC", w) for w in compounds])  # ordered, no duplicates
    return Language(code, folder, share, tuple(vocab), sep, ends, cased)


LANGUAGES = (
    _lang(
        "en",
        "English",
        30,
        "install configure server client guide reference example option command file folder setting network user "
        "account error message update release version feature device sync backup restore plugin theme editor page "
        "link note vault search index cache key token permission log build test deploy start stop open save delete "
        "the and or not with for when this your you can should before after every",
    ),
    _lang(
        "fr",
        "Français",
        9,
        "installer configurer serveur client guide référence exemple option commande fichier dossier paramètre réseau "
        "utilisateur compte erreur message version fonctionnalité appareil synchronisation sauvegarde restaurer "
        "extension thème éditeur page lien note coffre recherche clé jeton journal créer démarrer arrêter ouvrir "
        "fermer enregistrer supprimer également très après déjà où être système sécurité données élément et ou pour",
    ),
    _lang(
        "de",
        "Deutsch",
        9,
        "installieren konfigurieren Server Benutzer Anleitung Referenz Beispiel Option Befehl Datei Ordner Einstellung "
        "Netzwerk Konto Fehler Nachricht Aktualisierung Version Funktion Gerät Synchronisierung Sicherung "
        "wiederherstellen Erweiterung Oberfläche Seite Verknüpfung Notiz Tresor Suche Schlüssel Berechtigung Protokoll "
        "starten beenden öffnen schließen speichern löschen für über größer Größe Änderung Übersicht müssen können "
        "natürlich und oder nicht mit",
    ),
    _lang(
        "ru",
        "Русский",
        9,
        "установка настройка сервер клиент руководство справочник пример параметр команда файл папка сеть "
        "пользователь учётная запись ошибка сообщение обновление версия функция устройство синхронизация резервная "
        "копия восстановить расширение тема редактор страница ссылка заметка хранилище поиск индекс ключ журнал "
        "запустить остановить открыть закрыть сохранить удалить и или не для это быстро данные безопасность",
    ),
    _lang(
        "el",
        "Ελληνικά",
        6,
        "εγκατάσταση ρύθμιση διακομιστής πελάτης οδηγός αναφορά παράδειγμα επιλογή εντολή αρχείο φάκελος δίκτυο "
        "χρήστης λογαριασμός σφάλμα μήνυμα ενημέρωση έκδοση λειτουργία συσκευή συγχρονισμός αντίγραφο ασφαλείας "
        "επαναφορά επέκταση θέμα σελίδα σύνδεσμος σημείωση αναζήτηση ευρετήριο κλειδί καταγραφή έναρξη διακοπή "
        "άνοιγμα κλείσιμο αποθήκευση διαγραφή και ή δεν για είναι δεδομένα",
        ends="...;!",
    ),
    _lang(
        "zh",
        "中文",
        9,
        "安装 配置 服务器 客户端 指南 参考 示例 选项 命令 文件 文件夹 设置 网络 用户 账户 错误 消息 更新 版本 功能 设备 "
        "同步 备份 恢复 插件 主题 编辑器 页面 链接 笔记 仓库 搜索 索引 缓存 密钥 权限 日志 启动 停止 打开 关闭 保存 删除 "
        "我们 可以 需要 如果 然后 数据 安全 的 了 在",
        sep="",
        ends="。。。？！",
        cased=False,
    ),
    _lang(
        "ja",
        "日本語",
        8,
        "インストール 設定 サーバー クライアント ガイド リファレンス 例 オプション コマンド ファイル フォルダ ネットワーク "
        "ユーザー アカウント エラー メッセージ 更新 バージョン 機能 デバイス 同期 バックアップ 復元 プラグイン テーマ エディタ "
        "ページ リンク ノート 保管庫 検索 索引 キャッシュ 鍵 権限 ログ 起動 停止 開く 閉じる 保存 削除 を は が に で と "
        "します できます",
        sep="",
        ends="。。。？！",
        cased=False,
    ),
    _lang(
        "ko",
        "한국어",
        7,
        "설치 설정 서버 클라이언트 가이드 참조 예제 옵션 명령 파일 폴더 네트워크 사용자 계정 오류 메시지 업데이트 버전 "
        "기능 장치 동기화 백업 복원 플러그인 테마 편집기 페이지 링크 노트 보관소 검색 색인 캐시 키 권한 로그 시작 중지 "
        "열기 닫기 저장 삭제 그리고 또는 합니다 있습니다 데이터 보안",
        cased=False,
    ),
    _lang(
        "ar",
        "العربية",
        7,
        "تثبيت إعداد خادم عميل دليل مرجع مثال خيار أمر ملف مجلد شبكة مستخدم حساب خطأ رسالة تحديث إصدار ميزة جهاز "
        "مزامنة نسخة احتياطية استعادة إضافة سمة محرر صفحة رابط ملاحظة خزنة بحث فهرس ذاكرة مفتاح صلاحية سجل بدء إيقاف "
        "فتح إغلاق حفظ حذف و أو لا في من على البيانات الأمان",
        ends="...؟!",
        cased=False,
    ),
    _lang(
        "hi",
        "हिन्दी",
        6,
        "स्थापना सेटिंग सर्वर क्लाइंट मार्गदर्शिका संदर्भ उदाहरण विकल्प आदेश फ़ाइल फ़ोल्डर नेटवर्क उपयोगकर्ता खाता त्रुटि संदेश "
        "अद्यतन संस्करण सुविधा उपकरण समन्वय बैकअप पुनर्स्थापना प्लगइन थीम संपादक पृष्ठ लिंक नोट तिजोरी खोज सूचकांक कैश "
        "कुंजी अनुमति लॉग शुरू बंद खोलें सहेजें हटाएँ और या नहीं के लिए है डेटा सुरक्षा",
        ends="।।।?!",
        cased=False,
    ),
)
assert sum(lang.share for lang in LANGUAGES) == 100

_CODE = (  # ASCII in every language, as code is
    ("bash", "peervault init ~/Docs\npeervault invite ~/Docs --ttl {n}\n"),
    ("yaml", "server:\n  port: {n}\n  tls: true\nlog:\n  level: info\n"),
    ("json", '{{"version": {n}, "sync": true, "paths": ["docs/", "assets/"]}}\n'),
    ("python", "def handler(event):\n    if event.size > {n}:\n        return None\n    return event.path\n"),
    ("toml", '[cache]\nmax_docs = {n}\nprofile = "low-power"\n'),
)
_CALLOUTS = ("note", "tip", "warning", "info", "example")
_TAGS = ("docs", "guide", "reference", "howto", "faq", "release", "api", "draft", "review", "internal")


def title(rng: random.Random, lang: Language, words: int | None = None) -> str:
    """A page or folder name in `lang`: a few of its words, safe on every file system."""
    ws = rng.sample(lang.words, words or rng.randint(2, 4))
    s = lang.sep.join(ws)
    return s[:1].upper() + s[1:] if lang.cased else s


class NoteWriter:
    """Markdown pages of one language: front matter, headings, prose, lists, tasks, code, tables,
    callouts, `[[links]]` to pages of the same language and `![[embeds]]` of attachments."""

    def __init__(self, rng: random.Random, lang: Language, pool: int = SENTENCES) -> None:
        self.rng, self.lang = rng, lang
        self.sentences = [self._sentence() for _ in range(pool)]
        self.blocks: list[Callable[[list[str]], str]] = [
            self.paragraph,
            self.bullets,
            self.steps,
            self.tasks,
            self.heading,
            self.code,
            self.table,
            self.callout,
        ]
        self.weights = [38, 52, 58, 62, 76, 82, 86, 90]

    def _sentence(self) -> str:
        r, lang = self.rng, self.lang
        words = r.choices(lang.words, k=r.randint(4, 14))
        x = r.random()
        if x < 0.08:
            words[-1] = f"**{words[-1]}**"
        elif x < 0.14:
            words.insert(r.randrange(len(words)), r.choice(("`config.toml`", "`--profile`", "`peervault run`", "`.md`")))
        elif x < 0.17:
            words.append(f"https://docs.example.org/{lang.code}/{r.randrange(1000)}")
        s = lang.sep.join(words)
        if lang.cased:
            s = s[:1].upper() + s[1:]
        return s + r.choice(lang.ends)

    def link(self, names: list[str]) -> str:
        r = self.rng
        name = r.choice(names)
        x = r.random()
        if x < 0.1:
            return f"[[{name}|{r.choice(self.lang.words)}]]"
        if x < 0.2:
            return f"[[{name}#{r.choice(self.lang.words)}]]"
        return f"[[{name}]]"

    def paragraph(self, names: list[str]) -> str:
        parts = self.rng.choices(self.sentences, k=self.rng.randint(1, 5))
        if names and self.rng.random() < 0.5:
            parts.insert(self.rng.randrange(len(parts) + 1), self.link(names))
        return " ".join(parts) + "\n"

    def _items(self, names: list[str], mark: Callable[[int], str]) -> str:
        r = self.rng
        lines = []
        for i in range(r.randint(2, 7)):
            s = r.choice(self.sentences)
            if names and r.random() < 0.2:
                s = f"{s} {self.link(names)}"
            lines.append(mark(i) + s)
        return "\n".join(lines) + "\n"

    def bullets(self, names: list[str]) -> str:
        return self._items(names, lambda i: "  - " if i and self.rng.random() < 0.2 else "- ")

    def steps(self, names: list[str]) -> str:
        return self._items(names, lambda i: f"{i + 1}. ")

    def tasks(self, names: list[str]) -> str:
        return self._items(names, lambda i: f"- [{self.rng.choice(' x')}] ")

    def heading(self, names: list[str]) -> str:
        return f"{self.rng.choice(('##', '##', '###'))} {title(self.rng, self.lang)}\n"

    def code(self, names: list[str]) -> str:
        fence, snippet = self.rng.choice(_CODE)
        return f"```{fence}\n{snippet.format(n=self.rng.randrange(10, 9000))}```\n"

    def table(self, names: list[str]) -> str:
        r = self.rng
        cols = r.randint(2, 4)
        rows = [" | ".join(r.sample(self.lang.words, cols)), " | ".join(["---"] * cols)]
        for _ in range(r.randint(2, 8)):
            rows.append(" | ".join([r.choice(self.lang.words)] + [str(r.randrange(1000)) for _ in range(cols - 1)]))
        return "".join(f"| {row} |\n" for row in rows)

    def callout(self, names: list[str]) -> str:
        r = self.rng
        return f"> [!{r.choice(_CALLOUTS)}] {title(r, self.lang)}\n" + "".join(
            f"> {s}\n" for s in r.choices(self.sentences, k=r.randint(1, 3))
        )

    def front_matter(self, name: str, created: date, original: str | None) -> str:
        r = self.rng
        tags = ", ".join(r.sample(_TAGS, r.randint(1, 3)))
        updated = created + timedelta(days=r.randrange(400))
        extra = f'translation_of: "[[{original}]]"\n' if original else ""
        if r.random() < 0.2:
            extra += f"aliases: [{title(r, self.lang, 2)}]\n"
        return (
            f'---\ntitle: "{name}"\nlang: {self.lang.code}\ntags: [{tags}]\ncreated: {created}\nupdated: {updated}\n{extra}---\n'
        )

    def note(self, size: int, name: str, created: date, names: list[str], embeds: list[str], original: str | None) -> str:
        """About `size` UTF-8 bytes (whole blocks until it is reached), embedding every attachment
        of `embeds` at a random place."""
        r = self.rng
        parts = [self.front_matter(name, created, original)] if r.random() < 0.85 else []
        parts.append(f"# {name}\n")
        used = sum(len(p.encode()) for p in parts)
        pending = list(embeds)
        while used < size or pending:
            if pending and (used >= size or r.random() < 0.15):
                e = pending.pop()
                block = f"![[{e}]]\n" if r.random() < 0.8 else f"![[{e}|{r.randrange(200, 900)}]]\n"
            else:
                block = r.choices(self.blocks, cum_weights=self.weights)[0](names)
            parts.append(block)
            used += len(block.encode()) + 1
        return "\n".join(parts)
