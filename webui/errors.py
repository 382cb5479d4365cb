"""How refusals reach people: an error page in their language, or JSON for the API."""
from flask import jsonify, render_template, request

from engine.errors import NotAllowed, NotFound
from engine.persistence.uow import Conflict

from . import guard, i18n


def register(app):
    @app.errorhandler(403)
    @app.errorhandler(NotAllowed)
    def forbidden(_error):
        return error_page(403, "您没有权限访问此页面或执行此操作。", "You may not see this page or do this.")

    @app.errorhandler(404)
    @app.errorhandler(NotFound)
    def not_found(_error):
        return error_page(404, "找不到该页面或记录。", "Not found.")

    @app.errorhandler(405)
    def not_allowed_here(_error):
        return error_page(405, "此地址不接受该请求方式。", "This address does not take that method.")

    @app.errorhandler(Conflict)
    def conflict(error):
        return error_page(409, str(error), str(error))

    @app.errorhandler(400)
    def bad_request(error):
        if isinstance(error, guard.BadInput):
            return error_page(400, error.zh, error.en)
        return error_page(400, "请求无效（页面可能已过期，请刷新后重试）。",
                          "Bad request (the page may have expired; reload and try again).")

    @app.errorhandler(413)
    def too_large(_error):
        limit = app.config["MAX_CONTENT_LENGTH"] // (1024 * 1024)
        return error_page(413, f"提交的内容超过 {limit} MB 的上限。", f"The request is larger than the {limit} MB limit.")


def error_page(code, zh, en):
    """An error as a page, or as JSON ({"error": English, "error_zh": Chinese}) for the API."""
    if request.path.startswith("/api/"):
        return jsonify(error=en, error_zh=zh), code
    return render_template("error.html", code=code, message=i18n.t(zh, en)), code
